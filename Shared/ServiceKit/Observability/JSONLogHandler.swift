import Foundation
import Logging
import Synchronization

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

    /// A handler for logger `label` of `service`, writing to `sink` at the level `levels` gives.
    public init(label: String, service: String, sink: LogSink, levels: LogLevels, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.service = service
        self.sink = sink
        self.levels = levels
        self.metadataProvider = metadataProvider
        levels.register(label)
    }

    /// Reads the run-time level, so `PUT /loggers` takes effect on every existing logger.
    public var logLevel: Logger.Level {
        get { levels.level(for: label) }
        set { levels.set(newValue, for: label) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = JSONLineWriter()
        line.field("ts", timestamp: Self.clock.now())
        line.field("level", string: event.level.rawValue)
        line.field("service", string: service)
        line.field("logger", string: label)
        line.field("msg", string: event.message.description)
        // Event metadata wins over the logger's, which wins over the provider's; no merged
        // dictionary is built, since this runs once per request for the access log.
        let provided = metadataProvider?.get()
        let extra = event.metadata
        if let provided {
            let request = RequestLogFields.in(metadata[RequestLogFields.key])
            for (key, value) in provided
            where metadata[key] == nil && extra?[key] == nil && request?.writes(key) != true && !Self.isReserved(key) {
                line.field(key, value: value)
            }
        }
        for (key, value) in metadata where !Self.isReserved(key) {
            if key == RequestLogFields.key, let request = RequestLogFields.in(value) {
                line.request(request, except: extra)
            } else if extra?[key] == nil {
                line.field(key, value: value)
            }
        }
        if let extra {
            for (key, value) in extra where !Self.isReserved(key) {
                line.field(key, value: value)
            }
        }
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

    static let clock = TimestampClock()
}

/// Formats the current time for log lines, reusing the date-and-second part while it still holds.
final class TimestampClock: Sendable {
    private let cached = Mutex<(second: Int, prefix: [UInt8])>((-1, []))

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` as bytes.
    func now() -> [UInt8] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let second = Int(now.tv_sec)
        var bytes = cached.withLock { cache -> [UInt8] in
            if cache.second == second { return cache.prefix }
            var prefix = Self.dateAndSecond(now.tv_sec)
            prefix.append(UInt8(ascii: "."))
            cache = (second, prefix)
            return prefix
        }
        Self.digits(Int(now.tv_nsec / 1_000_000), 3, into: &bytes)
        bytes.append(UInt8(ascii: "Z"))
        return bytes
    }

    /// `YYYY-MM-DDTHH:MM:SS` in UTC as bytes, by `gmtime_r`. Foundation's date formatters would
    /// load ICU's calendar and time-zone data (3 MiB resident) to do the same.
    static func dateAndSecond(_ time: time_t) -> [UInt8] {
        var seconds = time
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        digits(Int(parts.tm_year) + 1900, 4, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2, into: &bytes)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2, into: &bytes)
        return bytes
    }

    /// `date` as ISO 8601 in UTC to the second (`2026-12-01T10:29:12Z`).
    static func iso8601(_ date: Date) -> String {
        String(decoding: dateAndSecond(time_t(date.timeIntervalSince1970.rounded(.down))) + [UInt8(ascii: "Z")], as: UTF8.self)
    }

    static func digits(_ value: Int, _ width: Int, into bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}

/// Builds one JSON object as bytes without Foundation's encoder (which is slower and sorts keys).
struct JSONLineWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private var first = true

    init() { bytes.reserveCapacity(256) }

    mutating func field(_ key: String, string: String) {
        writeKey(key)
        Self.appendString(string, to: &bytes)
    }

    mutating func field(_ key: String, timestamp: [UInt8]) {
        writeKey(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: timestamp)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func field(_ key: String, value: Logger.Metadata.Value) {
        writeKey(key)
        append(value)
    }

    /// A request's identity as its five fields, leaving out those the event sets itself.
    mutating func request(_ request: RequestLogFields, except event: Logger.Metadata?) {
        if event?["request_id"] == nil { field("request_id", string: request.requestID) }
        if event?["trace_id"] == nil { field("trace_id", string: request.traceID) }
        if event?["span_id"] == nil { field("span_id", string: request.spanID) }
        if event?["method"] == nil { field("method", string: request.method) }
        if let route = request.route, event?["route"] == nil { field("route", string: route) }
    }

    private mutating func writeKey(_ key: String) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        Self.appendString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func append(_ value: Logger.Metadata.Value) {
        switch value {
        case .string(let text):
            Self.appendString(text, to: &bytes)
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as JSONNumber:
                bytes.append(contentsOf: Array(number.description.utf8))
            case let number as Int:
                bytes.append(contentsOf: Array(String(number).utf8))
            case let number as any BinaryInteger:
                bytes.append(contentsOf: Array(String(describing: number).utf8))
            case let number as Double where number.isFinite:
                bytes.append(contentsOf: Array(String(number).utf8))
            case let flag as Bool:
                bytes.append(contentsOf: Array((flag ? "true" : "false").utf8))
            default:
                Self.appendString(convertible.description, to: &bytes)
            }
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                append(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .dictionary(let values):
            var nested = JSONLineWriter()
            for key in values.keys.sorted() { nested.field(key, value: values[key]!) }
            bytes.append(contentsOf: nested.finish())
        }
    }

    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Most values need no escaping: copy them whole.
        let plain = text.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if plain == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// A number for log metadata that the JSON handler writes unquoted without probing its type:
/// `.stringConvertible(JSONNumber(duration))`. Casting to this concrete type is far cheaper than
/// the protocol casts other values need.
public struct JSONNumber: CustomStringConvertible, Sendable {
    /// The JSON text of the number.
    public let description: String

    /// An integer.
    public init(_ value: Int) { description = String(value) }

    /// A finite double (non-finite values are written as 0, which JSON can carry).
    public init(_ value: Double) { description = value.isFinite ? String(value) : "0" }
}

/// The identity of one request as a single logger-metadata value under `request_id`: the JSON
/// handler writes it as the fields `request_id`, `trace_id`, `span_id`, `method` and `route`, so a
/// request pays one metadata insertion instead of five. Other handlers see the request id.
final class RequestLogFields: CustomStringConvertible, Sendable {
    static let key = "request_id"
    let requestID: String
    let traceID: String
    let spanID: String
    let method: String
    let route: String?

    init(requestID: String, traceID: String, spanID: String, method: String, route: String?) {
        self.requestID = requestID
        self.traceID = traceID
        self.spanID = spanID
        self.method = method
        self.route = route
    }

    var description: String { requestID }

    /// Whether writing these fields writes `key` (so a metadata provider's value for it is dropped).
    func writes(_ key: String) -> Bool {
        switch key {
        case "request_id", "trace_id", "span_id", "method": true
        case "route": route != nil
        default: false
        }
    }

    /// The fields held in a metadata value, if it holds them.
    static func `in`(_ value: Logger.Metadata.Value?) -> RequestLogFields? {
        guard case .stringConvertible(let convertible) = value else { return nil }
        return convertible as? RequestLogFields
    }
}
