import Logging
import Synchronization

/// The log levels in force, changeable at run time through `PUT /loggers`.
///
/// One root level plus optional per-logger overrides, keyed by the logger's label.
public final class LogLevels: Sendable {
    private struct State {
        var root: Logger.Level
        var overrides: [String: Logger.Level]
        var known: Set<String>
    }

    private let state: Mutex<State>

    public init(root: Logger.Level) {
        self.state = Mutex(State(root: root, overrides: [:], known: []))
    }

    /// The level for a logger label: its override, else the root level.
    public func level(for label: String) -> Logger.Level {
        state.withLock { $0.overrides[label] ?? $0.root }
    }

    /// Records a label so `GET /loggers` can list it.
    public func register(_ label: String) {
        state.withLock { _ = $0.known.insert(label) }
    }

    /// Sets the root level, or one logger's level when `label` is given.
    public func set(_ level: Logger.Level, for label: String? = nil) {
        state.withLock { state in
            if let label {
                state.overrides[label] = level
                state.known.insert(label)
            } else {
                state.root = level
            }
        }
    }

    /// The root level and the level of every known logger.
    public func snapshot() -> (root: Logger.Level, loggers: [String: Logger.Level]) {
        state.withLock { state in
            var loggers: [String: Logger.Level] = [:]
            for label in state.known { loggers[label] = state.overrides[label] ?? state.root }
            return (state.root, loggers)
        }
    }
}
