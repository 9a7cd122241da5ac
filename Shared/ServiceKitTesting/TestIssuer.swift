import Crypto
import Foundation
import HTTPTypes
import JWTKit
import ServiceKit

/// A signing key for tests: its PEM file for a real users process (`JWT_PRIVATE_KEY_FILE`), its
/// `kid` as users computes it, and tokens signed with it, well-formed or deliberately broken.
public struct TestIssuer: Sendable {
    /// The private key.
    public let key: ES256PrivateKey
    /// Its RFC 7638 id, the one users publishes.
    public let kid: String
    /// A file holding the key in PEM (mode 0600).
    public let pemFile: String

    /// A fresh key, written to a file in a new temporary folder.
    public init() throws {
        key = ES256PrivateKey()
        kid = KeyThumbprint.of(key.publicKey)
        let directory = try TemporaryDirectory.make(prefix: "issuer")
        pemFile = directory + "/jwt-key.pem"
        guard FileManager.default.createFile(atPath: pemFile, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw HarnessError("cannot write \(pemFile)")
        }
    }

    /// The standard claims of a token for `subject`, valid now for an hour; change any of them.
    public static func claims(
        subject: String = "1", issuer: String = "fleet-users", audience: String = "fleet", lifetime: TimeInterval = 3600,
        issuedAt: Date = Date(), scope: String? = nil
    ) -> [String: Any] {
        var claims: [String: Any] = [
            "sub": subject, "iss": issuer, "aud": audience,
            "iat": Int(issuedAt.timeIntervalSince1970), "exp": Int(issuedAt.timeIntervalSince1970 + lifetime),
        ]
        if let scope { claims["scope"] = scope }
        return claims
    }

    /// A token signed with this key: ES256, its `kid`, `claims` (the standard ones by default).
    public func token(_ claims: [String: Any] = TestIssuer.claims(), header: [String: Any]? = nil) throws -> String {
        let header = header ?? ["alg": "ES256", "typ": "JWT", "kid": kid]
        let input = try Self.part(header) + "." + Self.part(claims)
        let signature = try P256.Signing.PrivateKey(pemRepresentation: key.pemRepresentation).signature(for: Data(input.utf8))
        return input + "." + KeyThumbprint.base64URL(signature.rawRepresentation)
    }

    /// `header.payload.` signed with HMAC-SHA256 keyed by this key's public PEM: the algorithm
    /// confusion attack a verifier must refuse.
    public func hmacWithPublicKey(_ claims: [String: Any] = TestIssuer.claims()) throws -> String {
        let input = try Self.part(["alg": "HS256", "typ": "JWT", "kid": kid]) + "." + Self.part(claims)
        let secret = SymmetricKey(data: Data(key.publicKey.pemRepresentation.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: secret)
        return input + "." + KeyThumbprint.base64URL(Data(mac))
    }

    /// An unsigned token (`alg: none`, empty signature).
    public static func unsigned(_ claims: [String: Any] = TestIssuer.claims()) throws -> String {
        try part(["alg": "none", "typ": "JWT"]) + "." + part(claims) + "."
    }

    /// A base64url JSON part.
    public static func part(_ object: [String: Any]) throws -> String {
        KeyThumbprint.base64URL(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// `Authorization: Bearer <token>` for a valid token of this issuer.
    public func authorization(subject: String = "1", scope: String? = nil) throws -> String {
        "Bearer " + (try token(Self.claims(subject: subject, scope: scope)))
    }

    /// A verifier that knows this key, for in-process services: override `TokenVerifier` with it.
    public func verifier() async -> TokenVerifier {
        let collection = JWTKeyCollection()
        await collection.add(ecdsa: key.publicKey, kid: JWKIdentifier(string: kid))
        return TokenVerifier(keys: StaticVerificationKeys(collection: collection, kids: [kid]), issuer: "fleet-users", audience: "fleet")
    }

    /// Overrides under which an in-process service checks tokens against this key, with no
    /// users service to fetch keys from.
    public func overrides(_ base: DependencyOverrides = DependencyOverrides()) -> DependencyOverrides {
        var overrides = base
        overrides.override(TokenVerifier.self) { _ in await self.verifier() }
        return overrides
    }
}

extension TestIssuer {
    /// Headers carrying a valid token of this issuer for `subject`.
    public func bearer(subject: String = "1", scope: String? = nil) throws -> HTTPFields {
        [.authorization: try authorization(subject: subject, scope: scope)]
    }
}
