import Foundation
import Logging

/// Log handler that keeps every record, for tests that assert on logs.
public final class CapturedLogs: @unchecked Sendable {
    /// One captured record.
    public struct Record: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let lock = NSLock()
    private var stored: [Record] = []

    public init() {}

    /// Everything logged so far.
    public var records: [Record] { lock.withLock { stored } }

    /// A factory for `InProcessService.make(logHandler:)`.
    public var factory: @Sendable (String) -> any LogHandler {
        { _ in CapturingHandler(logs: self) }
    }

    fileprivate func append(_ record: Record) { lock.withLock { stored.append(record) } }

    private struct CapturingHandler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            merged.merge(event.metadata ?? [:]) { _, new in new }
            logs.append(Record(level: event.level, message: event.message.description, metadata: merged.mapValues { $0.description }))
        }
    }
}
