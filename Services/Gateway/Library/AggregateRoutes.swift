import Catalog
import CurlHTTP
import Foundation
import Hummingbird
import Orders
import ServiceKit
import Users

/// `/api/*`: answers assembled from several services at once, under one deadline. A service that
/// fails or is late is named in `degraded` and its part is null; only the primary resource (the
/// user of a dashboard) failing is an error.
struct AggregateRoutes: Sendable {
    static let userNotFound = HTTPProblem(.notFound, "User not found")
    static let usersDown = HTTPProblem(.serviceUnavailable, "users is unavailable")
    static let usersLate = HTTPProblem(.gatewayTimeout, "users did not answer in time")

    let fleet: FleetCalls

    func register(_ api: APIRouter) {
        let router = api.group("/api", tags: ["fleet"])
        let fleet = self.fleet

        router.get("/overview", summary: "How many users, items and orders the fleet holds", description: "Fetched from the three services at once; a service that does not answer within `PEER_TIMEOUT` is named in `degraded` and its count is null.") {
            () async throws -> Overview in
            await fleet.withinDeadline {
                let page = Pagination.Parameters(limit: 1, offset: 0)
                async let users = FleetCalls.outcome { try await fleet.users.call(UsersAPI.listUsers, path: page).total }
                async let items = FleetCalls.outcome { try await fleet.catalog.call(CatalogAPI.listItems, path: page).total }
                async let orders = FleetCalls.outcome { try await fleet.orders.call(OrdersAPI.listOrders, path: OrderQuery(userId: nil, limit: 1, offset: 0)).total }
                let answers = await [("users", users), ("catalog", items), ("orders", orders)]
                return Overview(
                    users: try? answers[0].1.get(), items: try? answers[1].1.get(), orders: try? answers[2].1.get(),
                    degraded: answers.compactMap { if case .failure = $0.1 { $0.0 } else { nil } })
            }
        }

        router.get("/users/{id}/dashboard", summary: "A user with their orders and the catalog's first items", description: "The user, their 20 latest orders and catalog's first 10 items, fetched at once. An unknown user is 404 and users being down 503 (or 504 when late); orders or catalog failing only names them in `degraded`.", errors: [Self.userNotFound, Self.usersDown, Self.usersLate]) {
            (path: Path<UserPath>) async throws -> Dashboard in
            let id = path.id
            return try await fleet.withinDeadline {
                async let user = FleetCalls.outcome { try await fleet.users.call(UsersAPI.readUser, path: UserPath(id: id)) }
                async let orders = FleetCalls.outcome { try await fleet.orders.call(OrdersAPI.listOrders, path: OrderQuery(userId: String(id), limit: 20, offset: 0)).orders }
                async let items = FleetCalls.outcome { try await fleet.catalog.call(CatalogAPI.listItems, path: Pagination.Parameters(limit: 10, offset: 0)).items }
                let (foundUser, foundOrders, foundItems) = await (user, orders, items)
                switch foundUser {
                case .failure(let error):
                    throw FleetCalls.problem(for: error, peer: "users", notFound: Self.userNotFound.detail)
                case .success(let user):
                    var degraded: [String] = []
                    if case .failure = foundOrders { degraded.append("orders") }
                    if case .failure = foundItems { degraded.append("catalog") }
                    return Dashboard(user: user, orders: try? foundOrders.get(), items: try? foundItems.get(), degraded: degraded)
                }
            }
        }

        router.get("/status", summary: "Every service's readiness, version and revision", description: "Each service's `/readyz` and `/info` on its admin port, at once; `latency_ms` is that of `/readyz`.") {
            () async throws -> FleetStatus in
            await fleet.withinDeadline {
                let services = await withTaskGroup(of: (Int, ServiceStatus).self) { group in
                    for (index, service) in fleet.admin.enumerated() {
                        group.addTask { (index, await Self.status(of: service.name, at: service.url, client: fleet.users.client)) }
                    }
                    var found: [(Int, ServiceStatus)] = []
                    for await entry in group { found.append(entry) }
                    return found.sorted { $0.0 < $1.0 }.map(\.1)
                }
                return FleetStatus(services: services, degraded: services.filter { !$0.ready }.map(\.name))
            }
        }
    }

    /// One service's `/readyz` (timed) and `/info`, read at once; any failure is "not ready".
    static func status(of name: String, at url: String, client: CurlClient) async -> ServiceStatus {
        let peer = name + "-admin"
        async let readiness: (Bool, Double) = {
            let started = ContinuousClock.now
            let ready: Bool
            do {
                let response = try await client.execute(ClientRequest(url: url + "/readyz", peer: peer))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                ready = response.status == .ok
            } catch {
                ready = false
            }
            let elapsed = ContinuousClock.now - started
            return (ready, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        }()
        async let build: (version: String?, revision: String?) = {
            guard let response = try? await client.execute(ClientRequest(url: url + "/info", peer: peer)), response.status == .ok,
                let bytes = try? await response.body.collect(upTo: 1 << 20),
                let info = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]
            else { return (nil, nil) }
            return (info["version"] as? String, info["revision"] as? String)
        }()
        let ((ready, latency), details) = await (readiness, build)
        return ServiceStatus(name: name, ready: ready, version: details.version, revision: details.revision, latencyMs: (latency * 1000).rounded() / 1000)
    }
}
