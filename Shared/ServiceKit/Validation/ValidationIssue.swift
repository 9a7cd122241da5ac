import Foundation

/// One invalid input, in pydantic's shape: `type`, `loc`, `msg`, `input`, `ctx`.
public struct ValidationIssue: Sendable, Equatable, Encodable {
    /// One step of a `loc` path: an object key or an array index.
    public enum Location: Sendable, Equatable, Encodable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case key(String)
        case index(Int)

        public init(stringLiteral value: String) { self = .key(value) }
        public init(integerLiteral value: Int) { self = .index(value) }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .key(let key): try container.encode(key)
            case .index(let index): try container.encode(index)
            }
        }
    }

    public var type: String
    public var loc: [Location]
    public var msg: String
    public var input: JSONValue?
    public var ctx: [String: JSONValue]?

    public init(type: String, loc: [Location], msg: String, input: JSONValue?, ctx: [String: JSONValue]? = nil) {
        self.type = type
        self.loc = loc
        self.msg = msg
        self.input = input
        self.ctx = ctx
    }

    enum CodingKeys: String, CodingKey { case type, loc, msg, input, ctx }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(loc, forKey: .loc)
        try container.encode(msg, forKey: .msg)
        try container.encode(input ?? .null, forKey: .input)
        try container.encodeIfPresent(ctx, forKey: .ctx)
    }
}

/// A 422: every invalid field of a request at once.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var issues: [ValidationIssue]

    public init(_ issues: [ValidationIssue]) { self.issues = issues }

    public var description: String {
        "validation failed: " + issues.map { "\($0.loc.map(\.text).joined(separator: ".")): \($0.msg)" }.joined(separator: "; ")
    }
}

extension ValidationIssue.Location {
    var text: String {
        switch self {
        case .key(let key): return key
        case .index(let index): return String(index)
        }
    }
}
