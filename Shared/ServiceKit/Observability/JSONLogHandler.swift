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
        write(level: event.level, message: event.message.description, eventSets: { extra?[$0] != nil }) { line in
            if let extra {
                for (key, value) in extra where !Self.isReserved(key) {
                    line.field(key, value: value)
                }
            }
        }
    }

    /// The access log line of one request: what `logger.info("request", metadata: ["route": ...,
    /// "path": ..., "status": ..., "duration_ms": ...])` writes, without building the metadata
    /// dictionary and its boxed values, once per request.
    func logRequest(route: String, path: String, status: Int, milliseconds: Double) {
        guard logLevel <= .info else { return }
        write(level: .info, message: "request", eventSets: Self.isAccessField) { line in
            line.field("route", string: route)
            line.field("path", string: path)
            line.field("status", integer: status)
            line.field("duration_ms", number: milliseconds)
        }
    }

    private static func isAccessField(_ key: String) -> Bool {
        switch key {
        case "route", "path", "status", "duration_ms": true
        default: false
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

/// Formats the current time for log lines without a lock: the civil date is computed from the
/// epoch seconds directly. A cache shared by every logging thread needed a lock, and so does glibc's
/// `gmtime_r` (its time-zone lock); under load either one made logging threads wait on each other.
enum TimestampClock {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` as bytes.
    static func now() -> [UInt8] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var bytes = dateAndSecond(now.tv_sec)
        bytes.append(UInt8(ascii: "."))
        digits(Int(now.tv_nsec / 1_000_000), 3, into: &bytes)
        bytes.append(UInt8(ascii: "Z"))
        return bytes
    }

    /// `YYYY-MM-DDTHH:MM:SS` in UTC as bytes. Foundation's date formatters would load ICU's
    /// calendar and time-zone data (3 MiB resident) to do the same.
    static func dateAndSecond(_ time: time_t) -> [UInt8] {
        let seconds = Int(time)
        let days = seconds.floorDivided(by: 86_400)
        let clock = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        digits(year, 4, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(month, 2, into: &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(day, 2, into: &bytes)
        bytes.append(UInt8(ascii: "T"))
        digits(clock / 3600, 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(clock / 60 % 60, 2, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(clock % 60, 2, into: &bytes)
        return bytes
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`, exact for every day a log line can carry).
    static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
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

extension Int {
    /// Division rounding towards minus infinity, for dates before 1970.
    fileprivate func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
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

    /// An integer written as a JSON number.
    mutating func field(_ key: String, integer: Int) {
        writeKey(key)
        bytes.append(contentsOf: JSONNumber(integer).description.utf8)
    }

    /// A double written as a JSON number, formatted as `JSONNumber` formats it.
    mutating func field(_ key: String, number: Double) {
        writeKey(key)
        bytes.append(contentsOf: JSONNumber(number).description.utf8)
    }

    /// A request's identity as its five fields, leaving out those the event sets itself.
    mutating func request(_ request: RequestLogFields, except eventSets: (String) -> Bool) {
        if !eventSets("request_id") { field("request_id", string: request.requestID) }
        if !eventSets("trace_id") { field("trace_id", string: request.traceID) }
        if !eventSets("span_id") { field("span_id", string: request.spanID) }
        if !eventSets("method") { field("method", string: request.method) }
        if let route = request.route, !eventSets("route") { field("route", string: route) }
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
