import ServiceKit

/// The users routes other services call (the gateway), declared once beside the models they
/// carry; a change to a route or model here is a compile error in every caller.
public enum UsersAPI {
    /// `GET /users/{id}`: 404 for an unknown id.
    public static let readUser = Endpoint<UserPath, NoBody, User>(.get, "/users/{id}")
    /// `GET /users?limit&offset`.
    public static let listUsers = Endpoint<Pagination.Parameters, NoBody, UserPage>(.get, "/users")
}
