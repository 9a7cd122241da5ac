import ServiceKit

/// The catalog routes other services call, declared once: catalog serves them with
/// `APIRouter.serve`, and callers (orders) use them with `PeerClient.call`, importing this
/// library. A change here or to these models is a compile error in every caller.
public enum CatalogAPI {
    /// `GET /items/{id}`.
    public static let readItem = Endpoint<ItemPath, NoBody, Item>(.get, "/items/{id}")
    /// `POST /items/{id}/reserve`: 409 when the stock is short.
    public static let reserve = Endpoint<ItemPath, Reservation, ReservationResult>(.post, "/items/{id}/reserve")
    /// `POST /items/{id}/release`: gives reserved stock back (compensation).
    public static let release = Endpoint<ItemPath, Reservation, ReleaseResult>(.post, "/items/{id}/release")
}

extension CatalogAPI {
    /// `GET /items?limit&offset`: a page of items, oldest first.
    public static let listItems = Endpoint<Pagination.Parameters, NoBody, ItemPage>(.get, "/items")
}
