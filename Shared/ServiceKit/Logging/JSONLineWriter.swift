import Foundation
import Logging

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
            case let number as Double:
                bytes.append(contentsOf: Array(JSONNumber(number).description.utf8))
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
        JSONString.writeQuoted(text, to: &bytes)
    }
}
