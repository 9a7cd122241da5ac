import Foundation
import Hummingbird
import ServiceKit

/// The catalog's HTTP API: items, stock reservations and item images.
struct ItemRoutes: Sendable {
    let store: ItemStore
    let images: ImageStore

    static let notFound = HTTPProblem.notFound("Item not found")

    func register(_ router: APIRouter) {
        router.post("/items", status: .created, summary: "Create an item") { request, context in
            var input = RequestInputs(request, context)
            let new = try await input.body(ItemCreate.self)
            try input.validate()
            return try await store.create(new)
        }

        router.on(.get, "/items/{id}", summary: "Read an item (ETag, 304 on If-None-Match)") { request, context in
            var input = RequestInputs(request, context)
            let id = input.path("id", Int.self)
            try input.validate()
            guard let item = try await store.get(id) else { throw Self.notFound }
            if let condition = request.headers[.ifNoneMatch], Self.matches(condition, etag: item.etag) {
                return Response(status: .notModified, headers: [.eTag: item.etag])
            }
            return try JSONResponse.make(item, headers: [.eTag: item.etag])
        }

        router.get("/items", summary: "List items (q, tag, limit, offset)") { request, context in
            var input = RequestInputs(request, context)
            let query = input.query("q", maxLength: 100)
            let tags = input.queryAll("tag", maxItems: 10)
            let limit = input.query("limit", default: 50, ge: 1, le: 500)
            let offset = input.query("offset", default: 0, ge: 0)
            try input.validate()
            let page = try await store.list(query: query, tags: tags, limit: limit, offset: offset)
            return ItemPage(items: page.items, total: page.total, limit: limit, offset: offset)
        }

        router.patch("/items/{id}", summary: "Change some fields of an item") { request, context in
            var input = RequestInputs(request, context)
            let id = input.path("id", Int.self)
            let patch = try await input.body(ItemPatch.self)
            try input.validate()
            guard let item = try await store.update(id, with: patch) else { throw Self.notFound }
            return item
        }

        router.delete("/items/{id}", summary: "Delete an item") { request, context in
            var input = RequestInputs(request, context)
            let id = input.path("id", Int.self)
            try input.validate()
            guard try await store.delete(id) else { throw Self.notFound }
            try? await images.remove(itemID: id)
        }

        router.post("/items/{id}/reserve", summary: "Reserve stock (used by orders)") { request, context in
            var input = RequestInputs(request, context)
            let id = input.path("id", Int.self)
            let reservation = try await input.body(Reservation.self)
            try input.validate()
            switch try await store.reserve(id, quantity: reservation.quantity) {
            case .reserved(let remaining):
                return ReservationResult(item_id: id, reserved: reservation.quantity, stock: remaining)
            case .insufficient(let available):
                throw HTTPProblem.conflict("Insufficient stock: \(available) available, \(reservation.quantity) requested")
            case .notFound:
                throw Self.notFound
            }
        }

        router.post("/items/{id}/image", status: .created, summary: "Upload the item's image (multipart field `file`)") { request, context in
            var input = RequestInputs(request, context)
            let id = input.path("id", Int.self)
            try input.validate()
            guard try await store.get(id) != nil else { throw Self.notFound }
            let upload = try await MultipartUpload.receiveFile(request, context: context, field: "file", into: images.directory)
            let info = ImageInfo(filename: upload.filename, content_type: upload.contentType, size: upload.size)
            try await images.keep(upload, itemID: id)
            try await store.saveImage(of: id, info)
            return info
        }
    }

    /// `If-None-Match` holds `*` or a list of entity tags, weak or strong; any match means 304.
    static func matches(_ header: String, etag: String) -> Bool {
        let wanted = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        for candidate in header.split(separator: ",") {
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = String(tag.dropFirst(2)) }
            if tag == wanted { return true }
        }
        return false
    }
}

/// Where item images live on disk: one file per item, replaced atomically.
struct ImageStore: Sendable {
    let directory: String

    func keep(_ upload: UploadedFile, itemID: Int) async throws {
        let target = "\(directory)/item-\(itemID)"
        if rename(upload.path, target) != 0 {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    func remove(itemID: Int) async throws {
        try FileManager.default.removeItem(atPath: "\(directory)/item-\(itemID)")
    }
}
