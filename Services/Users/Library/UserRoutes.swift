import Foundation
import Hummingbird
import ServiceKit

/// The users API: accounts, tokens and the public keys that check them.
struct UserRoutes: Sendable {
    static let notFound = HTTPProblem(.notFound, "User not found")
    static let usernameTaken = HTTPProblem(.conflict, "Username already registered")
    static let emailTaken = HTTPProblem(.conflict, "Email already registered")
    static let badCredentials = HTTPProblem(.unauthorized, detail: "Incorrect username or password", headers: [.wwwAuthenticate: "Bearer"])
    static let tooManyFailures = HTTPProblem(.tooManyRequests, "Too many failed logins; try again later")

    let keys: SigningKeys
    let hasher: PasswordHasher
    let throttle: LoginThrottle
    let settings: UsersSettings
    let tokens: ServiceConfiguration.TokenSettings

    func register(_ api: APIRouter) {
        let users = api.group("/users", tags: ["users"])

        users.post("", status: .created, summary: "Register an account", errors: [Self.usernameTaken, Self.emailTaken]) {
            (new: Body<UserCreate>, store: Depends<UserStore>) async throws -> User in
            guard new.password.utf8.count <= 72 else {
                throw ValidationFailure([ValidationIssue(type: "string_too_long", loc: ["body", "password"], msg: "String should have at most 72 bytes in UTF-8", input: nil)])
            }
            let hash = try await hasher.hash(new.password)
            do {
                return try await store.value.create(new.value, passwordHash: hash)
            } catch UserStore.Conflict.username {
                throw Self.usernameTaken
            } catch UserStore.Conflict.email {
                throw Self.emailTaken
            }
        }

        users.get("/me", summary: "The account of the token's bearer", errors: [Self.notFound]) {
            (caller: Depends<CurrentUser>, store: Depends<UserStore>) async throws -> User in
            guard let id = caller.id, let user = try await store.value.get(id) else { throw Self.notFound }
            return user
        }

        users.get("/{id}", summary: "Read an account", errors: [Self.notFound]) {
            (path: Path<UserPath>, store: Depends<UserStore>) async throws -> User in
            guard let user = try await store.value.get(path.id) else { throw Self.notFound }
            return user
        }

        users.get("", summary: "List accounts", description: "Oldest first.") {
            (page: Depends<Pagination>, store: Depends<UserStore>) async throws -> UserPage in
            let found = try await store.value.list(limit: page.limit, offset: page.offset)
            return UserPage(users: found.users, total: found.total, limit: page.limit, offset: page.offset)
        }

        let auth = api.group("", tags: ["auth"])
        auth.post(
            "/token", summary: "Sign in (OAuth2 password flow)",
            description: "Form-encoded `username` and `password`; answers a bearer token. Repeated failures for one username or client are refused with 429 for `LOGIN_LOCKOUT`.",
            errors: [Self.badCredentials, Self.tooManyFailures]
        ) { (form: Form<TokenRequest>, request: Depends<ClientAddress>, store: Depends<UserStore>) async throws -> TokenAnswer in
            let counted = ["user:" + form.username, "client:" + request.value]
            if let wait = throttle.retryAfter(counted) {
                throw HTTPProblem(.tooManyRequests, detail: Self.tooManyFailures.detail, headers: [.retryAfter: String(Int(wait.seconds.rounded(.up)))])
            }
            let account = try await store.value.credentials(of: form.username)
            guard try await hasher.verify(form.password, against: account?.passwordHash), let account else {
                throttle.recordFailure(counted)
                throw Self.badCredentials
            }
            throttle.clear(counted[0])
            let wanted = Set(form.scope.split(separator: " ").map(String.init))
            let granted = wanted.intersection(account.scopes).sorted().joined(separator: " ")
            let claims = AccessTokenClaims(
                subject: String(account.id), issuer: tokens.issuer, audience: tokens.audience, issuedAt: Date(),
                lifetime: settings.tokenLifetime, scope: granted.isEmpty ? nil : granted, username: account.username
            )
            return TokenAnswer(
                accessToken: try await keys.sign(claims), tokenType: "bearer",
                expiresIn: Int(settings.tokenLifetime.seconds), scope: granted.isEmpty ? nil : granted
            )
        }

        auth.get(
            "/.well-known/jwks.json", summary: "The public keys tokens are signed with",
            description: "The current key and any previous or next one still published (RFC 7517). Cached for five minutes."
        ) { () -> Reply<JWKSet> in
            Reply(keys.jwks, headers: [.cacheControl: "public, max-age=300"])
        }
    }
}
