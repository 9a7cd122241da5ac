import ServiceKit

/// An item as the API shows it.
@Model
public struct Item: Equatable {
    public var id: Int
    @Field(minLength: 1, maxLength: 100) public var name: String
    @Field(gt: 0) public var price: Double
    @Field(maxLength: 2000) public var description: String?
    public var tags: [String]
    @Field(ge: 0) public var stock: Int
    @Field(description: "When the item was created (ISO 8601, UTC)") public var createdAt: String
    @Field(description: "When the item last changed (ISO 8601, UTC)") public var updatedAt: String
    /// Bumped on every change; the ETag is derived from it.
    @Hidden var version: Int = 0

    /// A strong validator that changes whenever the item does.
    public var etag: EntityTag { EntityTag("item-\(id)-v\(version)") }
}

/// `POST /items` body.
@Model
public struct ItemCreate: Equatable {
    @Field(minLength: 1, maxLength: 100) public var name: String
    @Field(gt: 0) public var price: Double
    @Field(maxLength: 2000) public var description: String?
    @Field(maxItems: 10, itemMinLength: 1, itemMaxLength: 50) public var tags: [String] = []
    @Field(ge: 0) public var stock: Int = 0
}

/// `PATCH /items/{id}` body: only the fields present change; `description: null` clears it.
@Model
public struct ItemPatch: Equatable {
    @Field(minLength: 1, maxLength: 100) public var name: String?
    @Field(gt: 0) public var price: Double?
    @Field(maxLength: 2000) public var description: Patch<String> = .unchanged
    @Field(maxItems: 10, itemMinLength: 1, itemMaxLength: 50) public var tags: [String]?
    @Field(ge: 0) public var stock: Int?
}

/// `{id}` in item paths.
@Model
public struct ItemPath {
    @Field(description: "The item's id") public var id: Int
}

/// `GET /items` filters; `limit` and `offset` come from `Depends<Pagination>`.
@Model
public struct ItemFilter {
    @Field(description: "Words the name or description contains", maxLength: 100) public var q: String?
    @Field(description: "Tags the item has (all of them)", maxItems: 10) public var tag: [String] = []
}

/// `If-None-Match`, read by `GET /items/{id}`.
@Model
public struct Conditional {
    public var ifNoneMatch: String?
}

/// `POST /items/{id}/reserve` and `POST /items/{id}/release` body.
@Model
public struct Reservation: Equatable {
    @Field(ge: 1, le: 1_000_000) public var quantity: Int
    @Field(description: "The caller's id for this reservation: with it, reserve and release may be retried (each takes effect once)", minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9._:-]+$")
    public var reservationId: String?
}

/// `POST /items/{id}/release` answer: what was given back and the stock now.
@Model
public struct ReleaseResult: Equatable {
    public var itemId: Int
    @Field(description: "Given back by this call: 0 when the reservation was released before") public var released: Int
    public var stock: Int
}

/// `POST /items/{id}/reserve` answer: what is left after the reservation.
@Model
public struct ReservationResult: Equatable {
    public var itemId: Int
    public var reserved: Int
    public var stock: Int
}

/// `GET /items` answer.
@Model
public struct ItemPage: Equatable {
    public var items: [Item]
    public var total: Int
    public var limit: Int
    public var offset: Int
}

/// `POST /items/{id}/image` body.
@Model
public struct ImageUpload {
    @Field(description: "The image (at most MAX_UPLOAD_BYTES)") public var file: UploadedFile
}

/// `POST /items/{id}/image` answer.
@Model
public struct ImageInfo: Equatable {
    public var filename: String
    public var contentType: String
    public var size: Int
}
