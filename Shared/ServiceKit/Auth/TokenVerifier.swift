import Foundation
import JWTKit
import Logging

/// Checks fleet access tokens: the header, the signature against `keys`, then the claims.
///
/// Only `algorithm` is accepted, whatever the header asks: `none`, HMAC (a classic attack signs
/// with the public key as the secret) and any other algorithm are refused before a key is looked
/// up. Times are checked with `leeway` for clock skew between services.
public struct TokenVerifier: Injectable {
    /// Where the public keys come from.
    public let keys: any VerificationKeys
    /// The `iss` every token must carry.
    public let issuer: String
    /// The `aud` every token must name.
    public let audience: String
    /// Clock skew allowed on `exp` and `nbf`.
    public let leeway: Duration
    /// The only JWS algorithm accepted.
    public let algorithm: String
    let now: @Sendable () -> Date

    /// A verifier of tokens from `issuer` for `audience`, signed with keys from `keys`.
    public init(
        keys: any VerificationKeys, issuer: String, audience: String, leeway: Duration = .seconds(30),
        algorithm: String = "ES256", now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.algorithm = algorithm
        self.now = now
    }

    /// A verifier with the issuer, audience and leeway of `configuration`.
    public init(keys: any VerificationKeys, configuration: ServiceConfiguration) {
        self.init(keys: keys, issuer: configuration.tokens.issuer, audience: configuration.tokens.audience, leeway: configuration.tokens.leeway)
    }

    /// The user `token` authenticates, or the reason it does not.
    public func verify(_ token: String) async throws(TokenRejection) -> AuthenticatedUser {
        let header = try Self.header(of: token)
        guard header.alg == algorithm else { throw .algorithm(header.alg ?? "(none)") }
        guard let kid = header.kid, !kid.isEmpty else { throw .unknownKey("") }
        let collection: JWTKeyCollection?
        do {
            collection = try await keys.keys(for: kid)
        } catch let rejection as TokenRejection {
            throw rejection
        } catch {
            throw .keysUnavailable
        }
        guard let collection else { throw .unknownKey(kid) }
        let claims: AccessTokenClaims
        do {
            claims = try await collection.verify(token, as: AccessTokenClaims.self)
        } catch let error as JWTError where error.errorType == .malformedToken {
            // The signature matched (it is checked first), but the payload is not our claims.
            throw .malformed("claims do not decode (sub, iss, aud, iat and exp are required)")
        } catch {
            // A signature that does not match, or is not even base64url of the right length.
            throw .signature
        }
        let now = now()
        let skew = leeway.seconds
        guard claims.exp.value.addingTimeInterval(skew) > now else { throw .expired }
        if let nbf = claims.nbf, nbf.value.addingTimeInterval(-skew) > now { throw .notYetValid }
        guard claims.iss.value == issuer else { throw .issuer(claims.iss.value) }
        guard claims.aud.value.contains(audience) else { throw .audience }
        guard !claims.sub.value.isEmpty else { throw .malformed("empty sub") }
        let scopes = Set((claims.scope ?? "").split(separator: " ").map(String.init))
        return AuthenticatedUser(subject: claims.sub.value, username: claims.username, scopes: scopes, expiresAt: claims.exp.value)
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    /// The JOSE header, read before any key is touched.
    static func header(of token: String) throws(TokenRejection) -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
            throw .malformed("not a JWS compact serialization")
        }
        guard let bytes = base64URLDecoded(parts[0]), let header = try? JSONDecoder().decode(Header.self, from: bytes) else {
            throw .malformed("the header is not base64url JSON")
        }
        return header
    }

    static func base64URLDecoded(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !base64.contains("=") else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

extension TokenVerifier {
    /// A verifier of the tokens `issuer` signs, whose JWKS it fetches and caches
    /// (`JWKSKeySource`), with the issuer, audience, leeway and refetch interval of `configuration`.
    public static func issuedBy(_ issuer: PeerClient, configuration: ServiceConfiguration, logger: Logger) -> TokenVerifier {
        let source = JWKSKeySource(peer: issuer, minimumRefetchInterval: configuration.tokens.refetchInterval, logger: logger)
        return TokenVerifier(keys: source, configuration: configuration)
    }
}
