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
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let extra = event.metadata {
            merged.merge(extra) { _, new in new }
        }
        var line = JSONLineWriter()
        line.field("ts", string: Self.timestamp())
        line.field("level", string: event.level.rawValue)
        line.field("service", string: service)
        line.field("logger", string: label)
        line.field("msg", string: event.message.description)
        for key in merged.keys.sorted() where !Self.reserved.contains(key) {
            line.field(key, value: merged[key]!)
        }
        sink.write(line.finish())
    }

    // `hb.request.id` duplicates `request_id`; Hummingbird reads it, so it stays in the metadata.
    private static let reserved: Set<String> = ["ts", "level", "service", "logger", "msg", "hb.request.id"]

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-23T19:35:52.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(now.tv_nsec / 1_000_000)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
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

    mutating func field(_ key: String, value: Logger.Metadata.Value) {
        writeKey(key)
        append(value)
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
