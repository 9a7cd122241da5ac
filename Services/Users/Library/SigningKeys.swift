import Foundation
import JWTKit
import Logging
import ServiceKit
import Synchronization

/// The users service's key ring: the ES256 key tokens are signed with now, and the public keys
/// of the previous and next ones, which `/.well-known/jwks.json` publishes too so that a rotation
/// never invalidates a live token (docs/operations.md, "Rotating the token signing key").
///
/// Every key's `kid` is its RFC 7638 thumbprint: the same key always has the same id, in every
/// replica and after every restart, with nothing to configure.
struct SigningKeys: Sendable {
    /// The key new tokens are signed with.
    let current: ES256PrivateKey
    /// Its id.
    let currentKID: String
    /// Every published key by id, the current one included.
    let published: [(kid: String, key: ES256PublicKey)]
    /// All of them, for signing (current) and checking (any); filled on first use, since
    /// jwt-kit's collection is an actor and routes are declared synchronously.
    private let keyCollection = KeyCollection()

    init(current: ES256PrivateKey, others: [ES256PublicKey]) throws {
        self.current = current
        self.currentKID = try Self.thumbprint(current.publicKey)
        var published = [(currentKID, current.publicKey)]
        for key in others {
            let kid = try Self.thumbprint(key)
            if !published.contains(where: { $0.0 == kid }) { published.append((kid, key)) }
        }
        self.published = published
    }

    /// The collection holding every published key, the current one as a signer.
    func collection() async -> JWTKeyCollection {
        await keyCollection.filled { collection in
            await collection.add(ecdsa: current, kid: JWKIdentifier(string: currentKID))
            for (kid, key) in published.dropFirst() {
                await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            }
        }
    }

    /// The verification keys of the users service itself (`/users/me`).
    func verificationKeys() async -> StaticVerificationKeys {
        StaticVerificationKeys(collection: await collection(), kids: Set(published.map(\.kid)))
    }

    /// The keys `settings` name; without a private key, the one kept under `dataDirectory`,
    /// generated (with a warning) on the first start.
    static func load(_ settings: UsersSettings, dataDirectory: String, logger: Logger) throws -> SigningKeys {
        let current: ES256PrivateKey
        if let pem = settings.privateKeyPEM {
            do {
                current = try ES256PrivateKey(pem: pem)
            } catch {
                throw ConfigurationError(variable: settings.privateKeySource, value: "(PEM)", reason: "not an EC P-256 private key in PEM")
            }
        } else {
            current = try generatedKey(in: dataDirectory, logger: logger)
        }
        var others: [ES256PublicKey] = []
        for (variable, path) in [("JWT_PREVIOUS_KEY_FILE", settings.previousKeyFile), ("JWT_NEXT_KEY_FILE", settings.nextKeyFile)] {
            guard let path else { continue }
            let pem = try UsersSettings.read(path, variable: variable)
            if let key = try? ES256PrivateKey(pem: pem) {
                others.append(key.publicKey)
            } else if let key = try? ES256PublicKey(pem: pem) {
                others.append(key)
            } else {
                throw ConfigurationError(variable: variable, value: path, reason: "not an EC P-256 key in PEM (public or private)")
            }
        }
        return try SigningKeys(current: current, others: others)
    }

    /// The key in `<dataDirectory>/users-jwt-key.pem`, made on the first start (mode 0600).
    static func generatedKey(in dataDirectory: String, logger: Logger) throws -> ES256PrivateKey {
        let path = dataDirectory + "/users-jwt-key.pem"
        if let data = FileManager.default.contents(atPath: path), let pem = String(data: data, encoding: .utf8) {
            guard let key = try? ES256PrivateKey(pem: pem) else {
                throw ConfigurationError(variable: "JWT_PRIVATE_KEY_FILE", value: path, reason: "the generated key file is not an EC P-256 private key; delete it or set JWT_PRIVATE_KEY_FILE")
            }
            return key
        }
        let key = ES256PrivateKey()
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let temporary = path + ".\(getpid()).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError(variable: "DATA_DIR", value: dataDirectory, reason: "cannot write the generated signing key")
        }
        // Two replicas starting at once on one folder: the first rename wins, and both use its key.
        if link(temporary, path) != 0 {
            unlink(temporary)
            return try generatedKey(in: dataDirectory, logger: logger)
        }
        unlink(temporary)
        logger.warning("no JWT_PRIVATE_KEY_FILE or JWT_PRIVATE_KEY: generated a signing key for local use", metadata: ["path": .string(path)])
        return key
    }

    /// The JWKS document: every published key.
    var jwks: JWKSet {
        JWKSet(keys: published.compactMap { kid, key in
            guard let parameters = key.parameters else { return nil }
            return PublicJWK(kty: "EC", crv: "P-256", x: parameters.x, y: parameters.y, kid: kid, alg: "ES256", use: "sig")
        })
    }

    static func thumbprint(_ key: ES256PublicKey) throws -> String {
        let kid = KeyThumbprint.of(key)
        guard !kid.isEmpty else { throw ConfigurationError(variable: "JWT_PRIVATE_KEY", value: "", reason: "the key has no coordinates") }
        return kid
    }

    /// Signs `claims` with the current key.
    func sign(_ claims: AccessTokenClaims) async throws -> String {
        try await collection().sign(claims, kid: JWKIdentifier(string: currentKID))
    }
}

/// A jwt-kit key collection filled once, on first use. Two first uses racing both add the same
/// keys under the same ids, which is harmless.
final class KeyCollection: Sendable {
    private let collection = JWTKeyCollection()
    private let isFilled = Mutex(false)

    func filled(_ fill: (JWTKeyCollection) async -> Void) async -> JWTKeyCollection {
        if !isFilled.withLock({ $0 }) {
            await fill(collection)
            isFilled.withLock { $0 = true }
        }
        return collection
    }
}
