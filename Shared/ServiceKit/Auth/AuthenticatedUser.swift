import Foundation

/// Who a verified token says the caller is: what `Depends<CurrentUser>` hands a route.
public struct AuthenticatedUser: Sendable, Equatable {
    /// The token's `sub`: the user's id at users.
    public var subject: String
    /// The user's name, when the token carries it.
    public var username: String?
    /// The scopes the token grants.
    public var scopes: Set<String>
    /// When the token expires.
    public var expiresAt: Date

    /// A user with these claims.
    public init(subject: String, username: String? = nil, scopes: Set<String> = [], expiresAt: Date) {
        self.subject = subject
        self.username = username
        self.scopes = scopes
        self.expiresAt = expiresAt
    }

    /// The subject as users' numeric id, when it is one.
    public var id: Int? { Int(subject) }
}
