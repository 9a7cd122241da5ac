import Foundation
import Hummingbird
import ServiceKit

/// The catalog's HTTP API: items, stock reservations and item images.
struct ItemRoutes: Sendable {
    /// Thrown and documented by every route that takes an item id.
    static let notFound = HTTPProblem(.notFound, "Item not found")
    static let unchanged = DeclaredResponse(.notModified, "Not Modified: `If-None-Match` names the current ETag")

    func register(_ api: APIRouter) {
        let router = api.group("/items", tags: ["items"])

        router.post("", status: .created, summary: "Create an item", errors: []) {
            (_: Depends<CurrentUser>, new: Body<ItemCreate>, store: Depends<ItemStore>) async throws -> Item in
            try await store.value.create(new.value)
        }

        router.serve(
            CatalogAPI.readItem, summary: "Read an item", description: "Answers 304 when `If-None-Match` names the current ETag.",
            errors: [Self.notFound], responses: [Self.unchanged]
        ) {
            (path: Path<ItemPath>, condition: Header<Conditional>, store: Depends<ItemStore>) async throws -> Reply<Item> in
            guard let item = try await store.value.get(path.id) else { throw Self.notFound }
            // Stock changes with every order: caches keep the item but ask again each time.
            return .conditional(item, etag: item.etag, cacheControl: .revalidate, ifNoneMatch: condition.ifNoneMatch)
        }

        router.get("", summary: "List items", description: "Filters by words (`q`) and tags, newest last.") {
            (filter: Query<ItemFilter>, page: Depends<Pagination>, store: Depends<ItemStore>) async throws -> ItemPage in
            let found = try await store.value.list(query: filter.q, tags: filter.tag, limit: page.limit, offset: page.offset)
            return ItemPage(items: found.items, total: found.total, limit: page.limit, offset: page.offset)
        }

        router.patch("/{id}", summary: "Change some fields of an item", errors: [Self.notFound]) {
            (_: Depends<CurrentUser>, path: Path<ItemPath>, patch: Body<ItemPatch>, store: Depends<ItemStore>) async throws -> Item in
            guard let item = try await store.value.update(path.id, with: patch.value) else { throw Self.notFound }
            return item
        }

        router.delete("/{id}", summary: "Delete an item", errors: [Self.notFound]) {
            (_: Depends<CurrentUser>, path: Path<ItemPath>, store: Depends<ItemStore>, images: Depends<ImageStore>) async throws -> NoContent in
            guard try await store.value.delete(path.id) else { throw Self.notFound }
            try? await images.value.remove(itemID: path.id)
            return NoContent()
        }

        router.serve(
            CatalogAPI.reserve, summary: "Reserve stock",
            description: "Used by orders; atomic, 409 when the stock is short. With `reservation_id` a retry reserves nothing more, and an id already released reserves nothing (409).",
            errors: [Self.notFound, HTTPProblem(.conflict, "Insufficient stock")]
        ) { (path: Path<ItemPath>, reservation: Body<Reservation>, _: Depends<CurrentUser>, store: Depends<ItemStore>) async throws -> ReservationResult in
            let quantity = reservation.quantity
            switch try await store.value.reserve(path.id, quantity: quantity, reservationID: reservation.reservationId) {
            case .reserved(let remaining):
                return ReservationResult(itemId: path.id, reserved: quantity, stock: remaining)
            case .insufficient(let available):
                throw HTTPProblem.conflict("Insufficient stock: \(available) available, \(quantity) requested")
            case .released:
                throw HTTPProblem.conflict("Reservation \(reservation.reservationId ?? "") was released")
            case .mismatch:
                throw HTTPProblem.conflict("Reservation \(reservation.reservationId ?? "") is for another item or quantity")
            case .notFound:
                throw Self.notFound
            }
        }

        router.serve(
            CatalogAPI.release, summary: "Give reserved stock back",
            description: "Orders' compensation. With `reservation_id` it releases that reservation once: a retry gives nothing more back.",
            errors: [Self.notFound, HTTPProblem(.conflict, "The reservation is for another item or quantity")]
        ) { (path: Path<ItemPath>, release: Body<Reservation>, _: Depends<CurrentUser>, store: Depends<ItemStore>) async throws -> ReleaseResult in
            switch try await store.value.release(path.id, quantity: release.quantity, reservationID: release.reservationId) {
            case .released(let quantity, let stock):
                return ReleaseResult(itemId: path.id, released: quantity, stock: stock)
            case .mismatch:
                throw HTTPProblem.conflict("Reservation \(release.reservationId ?? "") is for another item or quantity")
            case .notFound:
                throw Self.notFound
            }
        }

        router.post(
            "/{id}/image", status: .created, summary: "Upload the item's image",
            errors: [Self.notFound, HTTPProblem.contentTooLarge]
        ) { (_: Depends<CurrentUser>, path: Path<ItemPath>, upload: Multipart<ImageUpload>, store: Depends<ItemStore>, images: Depends<ImageStore>) async throws -> ImageInfo in
            guard try await store.value.get(path.id) != nil else { throw Self.notFound }
            let file = upload.file
            let info = ImageInfo(filename: file.filename, contentType: file.contentType, size: file.size)
            try await images.value.keep(file, itemID: path.id)
            try await store.value.saveImage(of: path.id, info)
            return info
        }
    }
}

/// Where item images live on disk: one file per item, replaced atomically.
struct ImageStore: Injectable {
    let directory: String

    func keep(_ upload: UploadedFile, itemID: Int) async throws {
        try await FileStorage.createDirectory(directory)
        try await upload.save(to: "\(directory)/item-\(itemID)")
    }

    func remove(itemID: Int) async throws {
        try await FileStorage.remove("\(directory)/item-\(itemID)")
    }
}
