import Catalog
import Foundation
import HTTPTypes
import Logging
import ServiceKit
import ServiceLifecycle

/// Gives back the stock of orders that were not stored, from their durable intents: at once for
/// a failed order, then every `interval` for whatever catalog could not take (down, slow), and at
/// start-up for intents a crashed process left behind. Releases carry the reservation id, so a
/// retry gives nothing back twice.
public struct Compensator: Service, Injectable {
    let store: OrderStore
    let catalog: PeerClient
    let logger: Logger
    let interval: Duration

    public init(store: OrderStore, catalog: PeerClient, logger: Logger, interval: Duration = .seconds(2)) {
        self.store = store
        self.catalog = catalog
        self.logger = logger
        self.interval = interval
    }

    /// Releases what `attempt` reserved; what fails stays for the retry loop.
    public func release(attempt: String) async {
        do {
            try await store.abandon(attempt: attempt)
            for intent in try await store.intentsToRelease(attempt: attempt) { await release(intent) }
        } catch {
            logger.error("could not record the release of an attempt; the retry loop will", metadata: ["attempt": .string(attempt), "error": .string("\(error)")])
        }
    }

    /// One pass over every intent waiting for release.
    public func releasePending() async {
        do {
            for intent in try await store.intentsToRelease() { await release(intent) }
        } catch {
            logger.warning("could not read the pending releases", metadata: ["error": .string(Database.describe(error))])
        }
    }

    func release(_ intent: OrderStore.Intent) async {
        do {
            let result = try await catalog.call(
                CatalogAPI.release, path: ItemPath(id: intent.itemID),
                body: Reservation(quantity: intent.quantity, reservationId: intent.reservationID),
                headers: [.authorization: intent.authorization]
            )
            try await store.forget(intent.reservationID)
            logger.info("released a reservation", metadata: [
                "reservation_id": .string(intent.reservationID), "item_id": .stringConvertible(intent.itemID), "released": .stringConvertible(result.released),
            ])
        } catch let answer as PeerAnswerError where answer.status == .notFound || answer.status == .conflict {
            // The item is gone, or the id names another reservation: nothing can be given back.
            logger.error("a reservation cannot be released; dropped", metadata: ["reservation_id": .string(intent.reservationID), "error": .string(answer.description)])
            try? await store.forget(intent.reservationID)
        } catch {
            try? await store.countFailure(intent.reservationID)
            logger.warning("a release failed; it will be retried", metadata: ["reservation_id": .string(intent.reservationID), "error": .string("\(error)")])
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await releasePending()
                try? await Task.sleep(for: interval)
            }
        }
    }
}
