import JWTKit

/// Where a `TokenVerifier` finds the public key a token names by its `kid`: the users service's
/// own key ring, or the JWKS other services fetch from it (`JWKSKeySource`).
public protocol VerificationKeys: Sendable {
    /// A key collection holding `kid`, or nil when no such key is known (after whatever refresh
    /// the source allows). Throws `TokenRejection.keysUnavailable` when it has no keys at all.
    func keys(for kid: String) async throws -> JWTKeyCollection?
}

/// A fixed set of keys known in-process (the issuer's own).
public struct StaticVerificationKeys: VerificationKeys {
    let collection: JWTKeyCollection
    let kids: Set<String>

    /// Keys `kids`, all added to `collection`.
    public init(collection: JWTKeyCollection, kids: Set<String>) {
        self.collection = collection
        self.kids = kids
    }

    public func keys(for kid: String) async throws -> JWTKeyCollection? {
        kids.contains(kid) ? collection : nil
    }
}
