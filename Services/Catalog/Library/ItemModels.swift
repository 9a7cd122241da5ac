import ServiceKit

/// An item as the API shows it.
public struct Item: Codable, Sendable, Equatable {
    public var id: Int
    public var name: String
    public var price: Double
    public var description: String?
    public var tags: [String]
    public var stock: Int
    public var createdAt: String
    public var updatedAt: String
    /// Bumped on every change; the ETag is derived from it.
    var version: Int

    enum CodingKeys: String, CodingKey {
        case id, name, price, description, tags, stock
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int.self, forKey: .id)
        name = try container.decode(String.self, forKey: .name)
        price = try container.decode(Double.self, forKey: .price)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        tags = try container.decode([String].self, forKey: .tags)
        stock = try container.decode(Int.self, forKey: .stock)
        createdAt = try container.decode(String.self, forKey: .createdAt)
        updatedAt = try container.decode(String.self, forKey: .updatedAt)
        version = 0
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(price, forKey: .price)
        try container.encode(description, forKey: .description)
        try container.encode(tags, forKey: .tags)
        try container.encode(stock, forKey: .stock)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }

    init(id: Int, name: String, price: Double, description: String?, tags: [String], stock: Int, createdAt: String, updatedAt: String, version: Int) {
        self.id = id
        self.name = name
        self.price = price
        self.description = description
        self.tags = tags
        self.stock = stock
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    /// A strong validator that changes whenever the item does.
    public var etag: String { "\"item-\(id)-v\(version)\"" }
}

/// Shared constraints, so create and patch cannot drift apart.
enum ItemRules {
    static let nameLength = (min: 1, max: 100)
    static let descriptionMax = 2000
    static let maxTags = 10
    static let tagLength = (min: 1, max: 50)
}

/// `POST /items` body.
public struct ItemCreate: RequestModel, Equatable {
    public var name: String
    public var price: Double
    public var description: String?
    public var tags: [String]
    public var stock: Int

    public init(from fields: inout FieldReader) {
        name = fields.string("name", minLength: ItemRules.nameLength.min, maxLength: ItemRules.nameLength.max)
        price = fields.double("price", gt: 0)
        description = fields.optionalString("description", maxLength: ItemRules.descriptionMax)
        tags = fields.stringArray("tags", default: [], maxItems: ItemRules.maxTags, itemMinLength: ItemRules.tagLength.min, itemMaxLength: ItemRules.tagLength.max)
        stock = fields.int("stock", default: 0, ge: 0)
    }

    public init(name: String, price: Double, description: String? = nil, tags: [String] = [], stock: Int = 0) {
        self.name = name
        self.price = price
        self.description = description
        self.tags = tags
        self.stock = stock
    }
}

/// `PATCH /items/{id}` body: only the fields present change; `description: null` clears it.
public struct ItemPatch: RequestModel, Equatable {
    public var name: String?
    public var price: Double?
    /// nil: unchanged; `.some(nil)`: cleared.
    public var description: String??
    public var tags: [String]?
    public var stock: Int?

    public init(from fields: inout FieldReader) {
        name = fields.optionalString("name", minLength: ItemRules.nameLength.min, maxLength: ItemRules.nameLength.max)
        price = fields.optionalDouble("price", gt: 0)
        if fields.contains("description") {
            description = .some(fields.optionalString("description", maxLength: ItemRules.descriptionMax))
        }
        tags = fields.optionalStringArray("tags", maxItems: ItemRules.maxTags, itemMinLength: ItemRules.tagLength.min, itemMaxLength: ItemRules.tagLength.max)
        stock = fields.optionalInt("stock", ge: 0)
    }

    public init(name: String? = nil, price: Double? = nil, description: String?? = nil, tags: [String]? = nil, stock: Int? = nil) {
        self.name = name
        self.price = price
        self.description = description
        self.tags = tags
        self.stock = stock
    }
}

/// `POST /items/{id}/reserve` body.
public struct Reservation: RequestModel, Equatable {
    public var quantity: Int

    public init(from fields: inout FieldReader) {
        quantity = fields.int("quantity", ge: 1, le: 1_000_000)
    }
}

/// `POST /items/{id}/reserve` answer: what is left after the reservation.
public struct ReservationResult: Codable, Sendable, Equatable {
    public var item_id: Int
    public var reserved: Int
    public var stock: Int
}

/// `GET /items` answer.
public struct ItemPage: Codable, Sendable, Equatable {
    public var items: [Item]
    public var total: Int
    public var limit: Int
    public var offset: Int
}

/// `POST /items/{id}/image` answer.
public struct ImageInfo: Codable, Sendable, Equatable {
    public var filename: String
    public var content_type: String
    public var size: Int
}
