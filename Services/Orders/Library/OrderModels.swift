import ServiceKit

/// One line of `POST /orders`.
@Model
public struct OrderLineRequest: Equatable {
    @Field(description: "The catalog item", ge: 1) public var itemId: Int
    @Field(ge: 1, le: 1000) public var quantity: Int
}

/// `POST /orders` body.
@Model
public struct OrderCreate: Equatable {
    @Field(minItems: 1, maxItems: 50) public var lines: [OrderLineRequest]
}

/// A line of a stored order, with the name and price catalog had when it was placed.
@Model
public struct OrderLine: Equatable {
    public var itemId: Int
    public var name: String
    public var quantity: Int
    public var unitPrice: Double
}

/// An order as the API shows it.
@Model
public struct Order: Equatable {
    public var id: Int
    @Field(description: "The user who placed it (the token's subject)") public var userId: String
    @Field(description: "`placed`") public var status: String
    public var lines: [OrderLine]
    public var total: Double
    @Field(description: "When the order was placed (ISO 8601, UTC)") public var createdAt: String
}

/// `{id}` in order paths.
@Model
public struct OrderPath {
    @Field(description: "The order's id") public var id: Int
}

/// `GET /orders` filter; `limit` and `offset` come from `Depends<Pagination>`.
@Model
public struct OrderFilter {
    @Field(description: "Only this user's orders") public var userId: String?
}

/// `Idempotency-Key`, read by `POST /orders`.
@Model
public struct IdempotencyHeader {
    @Field(description: "Makes a retry safe: the same key and body answer the same order", minLength: 1, maxLength: 200)
    public var idempotencyKey: String?
}

/// `GET /orders` answer.
@Model
public struct OrderPage: Equatable {
    public var orders: [Order]
    public var total: Int
    public var limit: Int
    public var offset: Int
}
