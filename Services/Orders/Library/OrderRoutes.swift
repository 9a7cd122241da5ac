import Catalog
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// The orders API: placing an order (reserving its stock through catalog) and reading orders.
struct OrderRoutes: Sendable {
    static let notFound = HTTPProblem(.notFound, "Order not found")
    static let shortStock = HTTPProblem(.conflict, "Insufficient stock for an item")
    static let keyInProgress = HTTPProblem(.conflict, "A request with this Idempotency-Key is still being answered")

    let compensator: Compensator
    let publisher: OutboxPublisher

    func register(_ api: APIRouter) {
        let router = api.group("/orders", tags: ["orders"])

        router.post(
            "", status: .created, summary: "Place an order",
            description: "Prices come from catalog and the user from the token; stock is reserved through catalog, and given back if any line fails. With `Idempotency-Key`, a retry with the same body answers the same order (`Idempotent-Replayed: true`) and reserves nothing twice.",
            errors: [Self.shortStock, Self.keyInProgress]
        ) { (caller: Depends<CurrentUser>, token: Depends<BearerToken>, header: Header<IdempotencyHeader>, new: Body<OrderCreate>, catalog: Depends<Peer<CatalogPeer>>, store: Depends<OrderStore>) async throws -> Reply<Order> in
            let user = caller.subject
            let key = header.idempotencyKey
            if let key {
                switch try await Self.claim(key, user: user, body: new.value, store: store.value) {
                case .some(let order): return Reply(order, headers: [.idempotentReplayed: "true"])
                case .none: break
                }
            }
            do {
                let order = try await place(new.value, user: user, authorization: "Bearer " + token.value, key: key, catalog: catalog.value, store: store.value)
                return Reply(order)
            } catch {
                if let key { try? await store.value.unclaim(key, user: user) }
                throw error
            }
        }

        router.get("/{id}", summary: "Read an order", errors: [Self.notFound]) {
            (path: Path<OrderPath>, store: Depends<OrderStore>) async throws -> Order in
            guard let order = try await store.value.get(path.id) else { throw Self.notFound }
            return order
        }

        router.get("", summary: "List orders", description: "Oldest first; `user_id` keeps one user's.") {
            (filter: Query<OrderFilter>, page: Depends<Pagination>, store: Depends<OrderStore>) async throws -> OrderPage in
            let found = try await store.value.list(user: filter.userId, limit: page.limit, offset: page.offset)
            return OrderPage(orders: found.orders, total: found.total, limit: page.limit, offset: page.offset)
        }
    }

    /// Claims the key; the stored order when the key already made one (waiting up to 10 s for a
    /// racing request with it to finish), nil when this request is to place the order.
    static func claim(_ key: String, user: String, body: OrderCreate, store: OrderStore) async throws -> Order? {
        let hash = bodyHash(body)
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            switch try await store.claim(key, user: user, bodyHash: hash) {
            case .claimed: return nil
            case .replay(let id):
                guard let order = try await store.get(id) else { throw HTTPProblem(.internalServerError, detail: "the order of this key is gone") }
                return order
            case .otherBody:
                throw ValidationFailure([ValidationIssue(
                    type: "value_error", loc: ["header", "Idempotency-Key"],
                    msg: "Value error, this Idempotency-Key was used with another body", input: .string(key)
                )])
            case .inProgress:
                guard ContinuousClock.now < deadline else { throw keyInProgress }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// The body's canonical JSON, hashed: the same lines in the same order are the same body.
    static func bodyHash(_ body: OrderCreate) -> String {
        var writer = JSONWriter(capacity: 256)
        body.writeJSON(to: &writer)
        return SHA256.hash(data: Data(writer.buffer.readableBytesView)).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads every item, reserves every line (each behind a durable intent), then stores the
    /// order; any failure releases what was reserved before the error is answered.
    func place(_ new: OrderCreate, user: String, authorization: String, key: String?, catalog: PeerClient, store: OrderStore) async throws -> Order {
        let headers: HTTPFields = [.authorization: authorization]
        var lines: [OrderLine] = []
        var unknown: [ValidationIssue] = []
        for (index, line) in new.lines.enumerated() {
            do {
                let item = try await catalog.call(CatalogAPI.readItem, path: ItemPath(id: line.itemId), headers: headers)
                lines.append(OrderLine(itemId: item.id, name: item.name, quantity: line.quantity, unitPrice: item.price))
            } catch let answer as PeerAnswerError where answer.status == .notFound {
                unknown.append(ValidationIssue(
                    type: "value_error", loc: ["body", "lines", .index(index), "item_id"],
                    msg: "Value error, item \(line.itemId) does not exist", input: .int(line.itemId)
                ))
            }
        }
        if !unknown.isEmpty { throw ValidationFailure(unknown) }
        // Catalog bounds a price only from below: a total past Double's range would be stored
        // and answered as null. Refused before anything is reserved.
        let total = lines.reduce(0.0) { $0 + Double($1.quantity) * $1.unitPrice }
        guard total.isFinite else {
            throw ValidationFailure([ValidationIssue(
                type: "value_error", loc: ["body", "lines"], msg: "Value error, the order's total is too large", input: .null
            )])
        }

        let attempt = UUID().uuidString.lowercased()
        do {
            for (index, line) in lines.enumerated() {
                let reservation = "\(attempt):\(index)"
                try await store.recordIntent(reservation, attempt: attempt, itemID: line.itemId, quantity: line.quantity, authorization: authorization)
                do {
                    _ = try await catalog.call(
                        CatalogAPI.reserve, path: ItemPath(id: line.itemId),
                        body: Reservation(quantity: line.quantity, reservationId: reservation), headers: headers
                    )
                } catch let answer as PeerAnswerError where answer.status == .conflict {
                    throw HTTPProblem(.conflict, detail: "Insufficient stock for item \(line.itemId) (\(line.name)): \(answer.detail ?? "")")
                } catch let answer as PeerAnswerError where answer.status == .notFound {
                    throw ValidationFailure([ValidationIssue(
                        type: "value_error", loc: ["body", "lines", .index(index), "item_id"],
                        msg: "Value error, item \(line.itemId) does not exist", input: .int(line.itemId)
                    )])
                }
            }
            let order = try await store.commit(user: user, lines: lines, attempt: attempt, key: key)
            publisher.wake()
            return order
        } catch {
            await compensator.release(attempt: attempt)
            throw error
        }
    }
}

/// Catalog, as orders names its peer.
enum CatalogPeer: PeerName { static let name = "catalog" }

extension HTTPField.Name {
    /// `Idempotent-Replayed: true` on an answer repeated for an `Idempotency-Key`.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
