import Foundation
import JWTKit

/// The claims of a fleet access token, as users signs them and every service reads them.
///
/// `sub`, `iss`, `aud`, `iat` and `exp` are required: a token without one does not decode and is
/// refused. The time and audience checks are `TokenVerifier`'s, with its leeway, not jwt-kit's.
public struct AccessTokenClaims: JWTPayload, Equatable {
    /// The user's id.
    public var sub: SubjectClaim
    /// Who issued the token (`JWT_ISSUER`).
    public var iss: IssuerClaim
    /// Who the token is for (`JWT_AUDIENCE`).
    public var aud: AudienceClaim
    /// When it was issued.
    public var iat: IssuedAtClaim
    /// When it stops being valid.
    public var exp: ExpirationClaim
    /// Before when it is not valid yet, when given.
    public var nbf: NotBeforeClaim?
    /// Space-separated scopes (OAuth2), when the token was asked for some.
    public var scope: String?
    /// The user's name, for logs and `/users/me`-like answers without a lookup.
    public var username: String?

    /// Claims for `subject`, valid from `issuedAt` for `lifetime`.
    public init(subject: String, issuer: String, audience: String, issuedAt: Date, lifetime: Duration, scope: String? = nil, username: String? = nil) {
        self.sub = SubjectClaim(value: subject)
        self.iss = IssuerClaim(value: issuer)
        self.aud = AudienceClaim(value: audience)
        self.iat = IssuedAtClaim(value: issuedAt)
        self.exp = ExpirationClaim(value: issuedAt.addingTimeInterval(lifetime.seconds))
        self.scope = scope
        self.username = username
    }

    /// Claims are checked by `TokenVerifier` (with its leeway and expected issuer and audience).
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
