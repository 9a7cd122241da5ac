import Catalog
import Orders
import ServiceKit
import Users

/// `GET /api/overview`: how many users, items and orders the fleet holds; a count is null when
/// its service did not answer in time, and that service is named in `degraded`.
@Model
public struct Overview: Equatable {
    public var users: Int?
    public var items: Int?
    public var orders: Int?
    @Field(description: "The services that did not answer; their counts are null") public var degraded: [String]
}

/// `GET /api/users/{id}/dashboard`: the user with their latest orders and the catalog's first
/// items, fetched at once; `orders` or `items` is null when its service did not answer.
@Model
public struct Dashboard: Equatable {
    public var user: User
    public var orders: [Order]?
    public var items: [Item]?
    @Field(description: "The services that did not answer") public var degraded: [String]
}

/// One service in `GET /api/status`.
@Model
public struct ServiceStatus: Equatable {
    public var name: String
    @Field(description: "Whether its /readyz answered 200") public var ready: Bool
    public var version: String?
    public var revision: String?
    @Field(description: "How long its /readyz took, in milliseconds") public var latencyMs: Double
}

/// `GET /api/status`: every service's readiness, version and the latency of that check.
@Model
public struct FleetStatus: Equatable {
    public var services: [ServiceStatus]
    @Field(description: "The services that are not ready") public var degraded: [String]
}
