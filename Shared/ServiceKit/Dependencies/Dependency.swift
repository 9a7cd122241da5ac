import Hummingbird

/// Something a route needs, resolved once per request and cached for it, as FastAPI's `Depends`:
/// a database, the current user, pagination, settings, a peer client. A dependency may use
/// others (`scope.resolve`) and request inputs (`scope.input`), and clean up after the response
/// (`scope.onCleanup`). Tests replace any of them with `DependencyOverrides`.
public protocol Dependency: Sendable {
    /// What a route receives.
    associatedtype Value: Sendable
    /// Builds the value for one request.
    static func resolve(in scope: RequestScope) async throws -> Value
    /// Adds what this dependency reads (parameters, security, error answers) to the route's document.
    static func document(_ operation: inout OperationDescription)
}

extension Dependency {
    public static func document(_ operation: inout OperationDescription) {}
}

/// A value registered once for the whole service (`router.provide(store)`) and handed to routes
/// that ask for it with `Depends<ItemStore>`.
public protocol Injectable: Dependency where Value == Self {}

extension Injectable {
    public static func resolve(in scope: RequestScope) async throws -> Self {
        try scope.registered(Self.self)
    }
}

/// A route input resolving dependency `D`; use `.value`, or its members directly.
@dynamicMemberLookup
public struct Depends<D: Dependency>: RouteInput {
    /// The resolved value.
    public let value: D.Value

    public init(_ value: D.Value) { self.value = value }

    public subscript<Member>(dynamicMember keyPath: KeyPath<D.Value, Member>) -> Member {
        value[keyPath: keyPath]
    }

    public static func resolve(in scope: RequestScope) async throws -> Self? {
        do {
            return Depends(try await scope.resolve(D.self))
        } catch is RequestScope.InvalidInput {
            return nil
        }
    }

    public static func document(_ operation: inout OperationDescription) {
        D.document(&operation)
    }
}

/// Replacements for dependencies, by type: what FastAPI calls `dependency_overrides`.
public struct DependencyOverrides: Sendable {
    var replacements: [ObjectIdentifier: @Sendable (RequestScope) async throws -> any Sendable] = [:]

    public init() {}

    /// Resolves `dependency` with `replacement` instead of its own `resolve`.
    public mutating func override<D: Dependency>(_ dependency: D.Type, with replacement: @escaping @Sendable (RequestScope) async throws -> D.Value) {
        replacements[ObjectIdentifier(dependency)] = { scope in try await replacement(scope) }
    }

    /// Whether nothing is overridden (the common case, checked first on every resolution).
    public var isEmpty: Bool { replacements.isEmpty }
}
