import Logging
import Synchronization

/// The log levels in force, changeable at run time through `PUT /loggers`.
///
/// One root level plus optional per-logger overrides, keyed by the logger's label. Each label's
/// level in force is also kept in a `Cell` its handlers read with one atomic load: every log call
/// asks for the level, and a lock there made logging threads wait on each other under load.
public final class LogLevels: Sendable {
    /// The level in force for one label.
    public final class Cell: Sendable {
        private let raw: Atomic<UInt8>

        init(_ level: Logger.Level) { raw = Atomic(Self.code(level)) }

        /// The level handlers of this label log at.
        public var level: Logger.Level { Self.levels[Int(raw.load(ordering: .relaxed))] }

        func store(_ level: Logger.Level) { raw.store(Self.code(level), ordering: .relaxed) }

        private static let levels = Logger.Level.allCases

        private static func code(_ level: Logger.Level) -> UInt8 {
            UInt8(levels.firstIndex(of: level)!)
        }
    }

    private struct State {
        var root: Logger.Level
        var overrides: [String: Logger.Level]
        var cells: [String: Cell]
    }

    private let state: Mutex<State>

    public init(root: Logger.Level) {
        self.state = Mutex(State(root: root, overrides: [:], cells: [:]))
    }

    /// Records a label so `GET /loggers` can list it, and returns the cell that follows its level.
    @discardableResult
    public func register(_ label: String) -> Cell {
        state.withLock { state in
            if let cell = state.cells[label] { return cell }
            let cell = Cell(state.overrides[label] ?? state.root)
            state.cells[label] = cell
            return cell
        }
    }

    /// Sets the root level, or one logger's level when `label` is given.
    public func set(_ level: Logger.Level, for label: String? = nil) {
        state.withLock { state in
            if let label {
                state.overrides[label] = level
                if let cell = state.cells[label] {
                    cell.store(level)
                } else {
                    state.cells[label] = Cell(level)
                }
            } else {
                state.root = level
                for (label, cell) in state.cells where state.overrides[label] == nil {
                    cell.store(level)
                }
            }
        }
    }

    /// The root level and the level of every known logger.
    public func snapshot() -> (root: Logger.Level, loggers: [String: Logger.Level]) {
        state.withLock { state in
            var loggers: [String: Logger.Level] = [:]
            for label in state.cells.keys { loggers[label] = state.overrides[label] ?? state.root }
            return (state.root, loggers)
        }
    }
}
