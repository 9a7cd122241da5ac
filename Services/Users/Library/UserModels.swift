import ServiceKit

/// An account as the API shows it: never its password or hash.
@Model
public struct User: Equatable {
    public var id: Int
    public var username: String
    public var email: String
    @Field(description: "When the account was created (ISO 8601, UTC)") public var createdAt: String
}

/// `POST /users` body.
@Model
public struct UserCreate: Equatable {
    @Field(description: "3 to 32 of a-z, 0-9 and _", minLength: 3, maxLength: 32, pattern: "^[a-z0-9_]+$") public var username: String
    @Field(maxLength: 254, format: .email) public var email: String
    /// bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut.
    @Field(description: "8 to 72 characters (at most 72 bytes in UTF-8)", minLength: 8, maxLength: 72) public var password: String
}

/// `{id}` in user paths.
@Model
public struct UserPath {
    @Field(description: "The user's id") public var id: Int
}

/// `GET /users` answer.
@Model
public struct UserPage: Equatable {
    public var users: [User]
    public var total: Int
    public var limit: Int
    public var offset: Int
}

/// `POST /token` body: OAuth2's password grant (RFC 6749 §4.3), form-encoded, as FastAPI's
/// `OAuth2PasswordRequestForm`.
@Model
public struct TokenRequest {
    @Field(description: "`password` when given", pattern: "^password$") public var grantType: String?
    @Field(maxLength: 32) public var username: String
    @Field(maxLength: 72) public var password: String
    @Field(description: "Space-separated scopes wanted; only those the account holds are granted", maxLength: 1000) public var scope: String = ""
    public var clientId: String?
    public var clientSecret: String?
}

/// `POST /token` answer (RFC 6749 §5.1).
@Model
public struct TokenAnswer: Equatable {
    public var accessToken: String
    @Field(description: "Always `bearer`") public var tokenType: String
    @Field(description: "Seconds until the token expires") public var expiresIn: Int
    @Field(description: "The scopes granted, when any were") public var scope: String?
}

/// One public key of `/.well-known/jwks.json` (RFC 7517, an EC P-256 key).
@Model
public struct PublicJWK: Equatable {
    public var kty: String
    public var crv: String
    public var x: String
    public var y: String
    public var kid: String
    public var alg: String
    public var use: String
}

/// `/.well-known/jwks.json` answer: every key a live token may be signed with.
@Model
public struct JWKSet: Equatable {
    public var keys: [PublicJWK]
}
