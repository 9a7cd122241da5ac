import Foundation
import Logging

/// A swift-log handler that writes one JSON object per line:
/// `ts` (RFC 3339, UTC, ms), `level`, `service`, `logger`, `msg`, then the metadata flattened.
///
/// Formatting happens on the caller's thread (cheap, no locks); writing is the `LogSink`'s job.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let service: String
    private let sink: LogSink
    private let levels: LogLevels
    private let level: LogLevels.Cell

    /// A handler for logger `label` of `service`, writing to `sink` at the level `levels` gives.
    public init(label: String, service: String, sink: LogSink, levels: LogLevels, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.service = service
        self.sink = sink
        self.levels = levels
        self.metadataProvider = metadataProvider
        self.level = levels.register(label)
    }

    /// Reads the run-time level, so `PUT /loggers` takes effect on every existing logger: one
    /// atomic load, since every log call asks.
    public var logLevel: Logger.Level {
        get { level.level }
        set { levels.set(newValue, for: label) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let extra = event.metadata
        let access = extra.flatMap { AccessLogFields.in($0[AccessLogFields.key]) }
        let eventSets: (String) -> Bool = { key in
            extra?[key] != nil || (access != nil && AccessLogFields.writes(key))
        }
        write(level: event.level, message: event.message.description, eventSets: eventSets) { line in
            guard let extra else { return }
            for (key, value) in extra where !Self.isReserved(key) {
                if key == AccessLogFields.key, let access {
                    line.field("route", string: access.route)
                    line.field("path", string: access.path)
                    line.field("status", integer: access.status)
                    line.field("duration_ms", number: access.milliseconds)
                } else {
                    line.field(key, value: value)
                }
            }
        }
    }

    /// One line: the handler's own fields, then the provider's metadata, the logger's and the
    /// event's, where the event wins over the logger, which wins over the provider. No merged
    /// dictionary is built: this runs once per request for the access log.
    private func write(level: Logger.Level, message: String, eventSets: (String) -> Bool, event: (inout JSONLineWriter) -> Void) {
        var line = JSONLineWriter()
        line.field("ts", timestamp: TimestampClock.now())
        line.field("level", string: level.rawValue)
        line.field("service", string: service)
        line.field("logger", string: label)
        line.field("msg", string: message)
        if let provided = metadataProvider?.get() {
            let request = RequestLogFields.in(metadata[RequestLogFields.key])
            for (key, value) in provided
            where metadata[key] == nil && !eventSets(key) && request?.writes(key) != true && !Self.isReserved(key) {
                line.field(key, value: value)
            }
        }
        for (key, value) in metadata where !Self.isReserved(key) {
            if key == RequestLogFields.key, let request = RequestLogFields.in(value) {
                line.request(request, except: eventSets)
            } else if !eventSets(key) {
                line.field(key, value: value)
            }
        }
        event(&line)
        sink.write(line.finish())
    }

    /// The fields the handler writes itself, and `hb.request.id`, which duplicates `request_id`
    /// (Hummingbird reads it, so it stays in the metadata). A switch, not a `Set`: no hashing for
    /// each metadata key of each line.
    private static func isReserved(_ key: String) -> Bool {
        switch key {
        case "ts", "level", "service", "logger", "msg", "hb.request.id": true
        default: false
        }
    }
}
