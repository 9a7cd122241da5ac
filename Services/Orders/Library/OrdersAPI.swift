import ServiceKit

/// The orders routes other services call (the gateway), declared once beside the models they
/// carry.
public enum OrdersAPI {
    /// `GET /orders?user_id&limit&offset`.
    public static let listOrders = Endpoint<OrderQuery, NoBody, OrderPage>(.get, "/orders")
}

/// `GET /orders`' query as a caller sends it: the filter and the page together.
@Model
public struct OrderQuery: Equatable {
    public var userId: String?
    @Field(ge: 1, le: 500) public var limit: Int = 50
    @Field(ge: 0) public var offset: Int = 0
}
