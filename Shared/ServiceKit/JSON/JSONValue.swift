import Foundation

/// A parsed JSON document, kept apart from any model so validation can see every field at once
/// (and echo the offending input in a 422), before a typed value is built.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses a JSON document; malformed input throws a 422 `json_invalid` validation error
    /// whose `loc` holds the character offset, as FastAPI's does.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        do {
            return try JSONParser.parse(bytes)
        } catch {
            // Python's decoder (and so FastAPI) counts characters, not bytes: skip UTF-8 continuation bytes.
            let characters = bytes.prefix(error.offset).reduce(0) { count, byte in byte & 0xC0 == 0x80 ? count : count + 1 }
            throw ValidationFailure([
                ValidationIssue(
                    type: "json_invalid", loc: [.key("body"), .index(characters)], msg: "JSON decode error",
                    input: .object([:]), ctx: ["error": .string(error.reason)]
                )
            ])
        }
    }
}
