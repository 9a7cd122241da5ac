import Catalog
import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Testing

/// The catalog's HTTP API, in-process on a temporary SQLite file. Writes need a bearer token:
/// the service checks tokens against `issuer`'s key (no users service), and writes carry one.
@Suite struct ItemRoutesTests {
    /// JSON without a token.
    static let plainJSON: HTTPFields = [.contentType: "application/json"]

    /// Signs the tokens the writes carry.
    let issuer: TestIssuer
    /// `Authorization: Bearer <a valid token>`.
    let auth: HTTPFields
    /// JSON with a valid token, for the writes that take a JSON body.
    let json: HTTPFields

    init() throws {
        issuer = try TestIssuer()
        auth = try issuer.bearer()
        var json = auth
        json[.contentType] = "application/json"
        self.json = json
    }

    /// Runs `test` against the service's API, which checks tokens against `issuer`'s key.
    func api<Value: Sendable>(
        _ service: InProcessService, _ framework: TestingSetup = .router,
        _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await service.api(framework, overrides: issuer.overrides(), test)
    }

    func object(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    /// `type@loc` of every issue of a 422.
    func issues(_ response: TestResponse) throws -> Set<String> {
        #expect(response.status == .unprocessableContent)
        let detail = try #require(try object(response.body)["detail"] as? [[String: Any]])
        return Set(detail.map { "\($0["type"]!)@" + (($0["loc"] as? [Any]) ?? []).map { "\($0)" }.joined(separator: ".") })
    }

    func create(_ client: any TestClientProtocol, _ body: String) async throws -> [String: Any] {
        let response = try await client.execute(uri: "/items", method: .post, headers: json, body: ByteBuffer(string: body))
        #expect(response.status == .created)
        return try object(response.body)
    }

    @Test func anItemIsCreatedAndReadWithItsETag() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                let created = try await create(client, #"{"name": "Lamp", "price": 19.5, "tags": ["home"], "stock": 3}"#)
                #expect(created["name"] as? String == "Lamp")
                #expect(created["price"] as? Double == 19.5)
                #expect(created["tags"] as? [String] == ["home"])
                #expect(created["stock"] as? Int == 3)
                #expect(created.keys.contains("description"))
                #expect(created["created_at"] is String)
                let id = try #require(created["id"] as? Int)

                let read = try await client.execute(uri: "/items/\(id)", method: .get)
                #expect(read.status == .ok)
                let etag = try #require(read.headers[.eTag])
                #expect(try object(read.body)["id"] as? Int == id)

                let same = try await client.execute(uri: "/items/\(id)", method: .get, headers: [.ifNoneMatch: etag])
                #expect(same.status == .notModified)
                #expect(same.headers[.eTag] == etag)
                #expect(same.body.readableBytes == 0)
                let inList = try await client.execute(uri: "/items/\(id)", method: .get, headers: [.ifNoneMatch: "\"other\", W/\(etag)"])
                #expect(inList.status == .notModified)
                let star = try await client.execute(uri: "/items/\(id)", method: .get, headers: [.ifNoneMatch: "*"])
                #expect(star.status == .notModified)
                let stale = try await client.execute(uri: "/items/\(id)", method: .get, headers: [.ifNoneMatch: "\"item-\(id)-v0\""])
                #expect(stale.status == .ok)
            }
        }
    }

    @Test func theHiddenVersionIsNeverSerialisedInAnyAnswer() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                let declared: Set<String> = ["id", "name", "price", "description", "tags", "stock", "created_at", "updated_at"]
                let created = try await create(client, #"{"name": "Vase", "price": 12, "version": 99}"#)
                let id = try #require(created["id"] as? Int)
                let patched = try await client.execute(uri: "/items/\(id)", method: .patch, headers: json, body: ByteBuffer(string: #"{"stock": 4}"#))
                let read = try await client.execute(uri: "/items/\(id)", method: .get)
                let listed = try await client.execute(uri: "/items", method: .get)

                #expect(read.headers[.eTag] == "\"item-\(id)-v2\"", "the version exists and was bumped by the PATCH")
                #expect(Set(created.keys) == declared)
                #expect(Set(try object(patched.body).keys) == declared)
                #expect(Set(try object(read.body).keys) == declared)
                let items = try #require(try object(listed.body)["items"] as? [[String: Any]])
                #expect(items.map { Set($0.keys) } == [declared])
                for body in [patched.body, read.body, listed.body] {
                    #expect(!String(buffer: body).contains("version"))
                }
            }
        }
    }

    @Test func anUnknownItemIs404WithFastAPIsDetail() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                for (method, uri, headers) in [(HTTPRequest.Method.get, "/items/404", HTTPFields()), (.delete, "/items/404", auth)] {
                    let response = try await client.execute(uri: uri, method: method, headers: headers)
                    #expect(response.status == .notFound)
                    #expect(String(buffer: response.body) == #"{"detail":"Item not found"}"#)
                }
                let patch = try await client.execute(uri: "/items/404", method: .patch, headers: json, body: ByteBuffer(string: #"{"name": "x"}"#))
                #expect(patch.status == .notFound)
                let reserve = try await client.execute(uri: "/items/404/reserve", method: .post, headers: json, body: ByteBuffer(string: #"{"quantity": 1}"#))
                #expect(reserve.status == .notFound)
            }
        }
    }

    @Test func everyWriteWithoutATokenIs401WithABearerChallengeAndReadsNeedNone() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                let created = try await create(client, #"{"name": "Lamp", "price": 19.5, "stock": 3}"#)
                let id = try #require(created["id"] as? Int)
                let (form, image) = Self.multipart(filename: "a.png", contentType: "image/png", content: "PNGDATA")
                let writes: [(HTTPRequest.Method, String, HTTPFields, ByteBuffer?)] = [
                    (.post, "/items", Self.plainJSON, ByteBuffer(string: #"{"name": "Mug", "price": 3}"#)),
                    (.patch, "/items/\(id)", Self.plainJSON, ByteBuffer(string: #"{"name": "Changed"}"#)),
                    (.delete, "/items/\(id)", [:], nil),
                    (.post, "/items/\(id)/reserve", Self.plainJSON, ByteBuffer(string: #"{"quantity": 1}"#)),
                    (.post, "/items/\(id)/release", Self.plainJSON, ByteBuffer(string: #"{"quantity": 1}"#)),
                    (.post, "/items/\(id)/image", form, image),
                ]
                for (method, uri, headers, body) in writes {
                    let refused = try await client.execute(uri: uri, method: method, headers: headers, body: body)
                    #expect(refused.status == .unauthorized, "\(method) \(uri)")
                    #expect(String(buffer: refused.body) == #"{"detail":"Not authenticated"}"#, "\(method) \(uri)")
                    #expect(refused.headers[.wwwAuthenticate] == "Bearer", "\(method) \(uri)")
                }

                let read = try await client.execute(uri: "/items/\(id)", method: .get)
                #expect(read.status == .ok)
                let item = try object(read.body)
                #expect(item["name"] as? String == "Lamp", "the refused PATCH changed nothing")
                #expect(item["stock"] as? Int == 3, "the refused reservation took no stock")
                #expect(read.headers[.eTag] == "\"item-\(id)-v1\"")
                let listed = try await client.execute(uri: "/items", method: .get)
                #expect(listed.status == .ok)
                #expect(try object(listed.body)["total"] as? Int == 1, "the refused POST stored nothing, the refused DELETE removed nothing")
                #expect(!FileManager.default.fileExists(atPath: "\(service.directory)/catalog-images/item-\(id)"), "the refused upload stored nothing")
            }
        }
    }

    @Test func listingPagesFiltersAndCounts() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                _ = try await create(client, #"{"name": "Red Chair", "price": 40, "tags": ["furniture", "red"]}"#)
                _ = try await create(client, #"{"name": "Blue Chair", "price": 45, "tags": ["furniture"]}"#)
                _ = try await create(client, #"{"name": "Red Mug", "price": 8, "tags": ["red"]}"#)
                let all = try object(try await client.execute(uri: "/items", method: .get).body)
                #expect(all["total"] as? Int == 3)
                #expect(all["limit"] as? Int == 50)
                #expect(all["offset"] as? Int == 0)
                #expect((all["items"] as? [Any])?.count == 3)
                let red = try object(try await client.execute(uri: "/items?tag=red&tag=furniture", method: .get).body)
                #expect((red["items"] as? [[String: Any]])?.map { $0["name"] as? String } == ["Red Chair"])
                let page = try object(try await client.execute(uri: "/items?q=chair&limit=1&offset=1", method: .get).body)
                #expect(page["total"] as? Int == 2)
                #expect((page["items"] as? [[String: Any]])?.map { $0["name"] as? String } == ["Blue Chair"])
            }
        }
    }

    @Test func patchChangesOnlyThePresentFieldsAndNullClearsTheDescription() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                let created = try await create(client, #"{"name": "Desk", "price": 100, "description": "oak", "tags": ["office"], "stock": 2}"#)
                let id = try #require(created["id"] as? Int)
                let before = try await client.execute(uri: "/items/\(id)", method: .get)
                let patched = try await client.execute(uri: "/items/\(id)", method: .patch, headers: json, body: ByteBuffer(string: #"{"price": 90, "description": null}"#))
                #expect(patched.status == .ok)
                let body = try object(patched.body)
                #expect(body["name"] as? String == "Desk")
                #expect(body["price"] as? Double == 90)
                #expect(body["description"] is NSNull)
                #expect(body["tags"] as? [String] == ["office"])
                #expect(body["stock"] as? Int == 2)
                let after = try await client.execute(uri: "/items/\(id)", method: .get, headers: [.ifNoneMatch: before.headers[.eTag] ?? ""])
                #expect(after.status == .ok, "the old ETag no longer matches")
            }
        }
    }

    @Test func deleteAnswers204AndTheItemIsGone() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                let id = try #require(try await create(client, #"{"name": "Gone", "price": 1}"#)["id"] as? Int)
                let deleted = try await client.execute(uri: "/items/\(id)", method: .delete, headers: auth)
                #expect(deleted.status == .noContent)
                #expect(try await client.execute(uri: "/items/\(id)", method: .get).status == .notFound)
            }
        }
    }

    @Test func reservingTakesStockAndShortStockIs409() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                let id = try #require(try await create(client, #"{"name": "Pen", "price": 1, "stock": 3}"#)["id"] as? Int)
                let ok = try await client.execute(uri: "/items/\(id)/reserve", method: .post, headers: json, body: ByteBuffer(string: #"{"quantity": 2}"#))
                #expect(ok.status == .ok)
                let result = try object(ok.body)
                #expect(result["stock"] as? Int == 1)
                #expect(result["reserved"] as? Int == 2)
                let short = try await client.execute(uri: "/items/\(id)/reserve", method: .post, headers: json, body: ByteBuffer(string: #"{"quantity": 2}"#))
                #expect(short.status == .conflict)
                #expect((try object(short.body)["detail"] as? String)?.contains("Insufficient stock") == true)
                let item = try object(try await client.execute(uri: "/items/\(id)", method: .get).body)
                #expect(item["stock"] as? Int == 1)
            }
        }
    }

    @Test func everyRouteListsAllItsInvalidInputsAt422() async throws {
        try await InProcessCatalog.with { service in
            try await api(service) { client async throws in
                let tooManyTags = (0..<11).map { "\"t\($0)\"" }.joined(separator: ",")
                let create = try await client.execute(
                    uri: "/items", method: .post, headers: json,
                    body: ByteBuffer(string: #"{"name": "", "price": -1, "description": 5, "tags": [\#(tooManyTags)], "stock": -2}"#)
                )
                #expect(try issues(create) == [
                    "string_too_short@body.name", "greater_than@body.price", "string_type@body.description",
                    "too_long@body.tags", "greater_than_equal@body.stock",
                ])
                let missing = try await client.execute(uri: "/items", method: .post, headers: json, body: ByteBuffer(string: "{}"))
                #expect(try issues(missing) == ["missing@body.name", "missing@body.price"])
                let wrongTypes = try await client.execute(uri: "/items", method: .post, headers: json, body: ByteBuffer(string: #"{"name": 7, "price": "cheap", "tags": "x", "stock": 1.5}"#))
                #expect(try issues(wrongTypes) == ["string_type@body.name", "float_parsing@body.price", "list_type@body.tags", "int_from_float@body.stock"])
                let longName = try await client.execute(uri: "/items", method: .post, headers: json, body: ByteBuffer(string: #"{"name": "\#(String(repeating: "n", count: 101))", "price": 1, "tags": [""]}"#))
                #expect(try issues(longName) == ["string_too_long@body.name", "string_too_short@body.tags.0"])
                let notObject = try await client.execute(uri: "/items", method: .post, headers: json, body: ByteBuffer(string: "[1]"))
                #expect(try issues(notObject) == ["model_attributes_type@body"])
                let malformed = try await client.execute(uri: "/items", method: .post, headers: json, body: ByteBuffer(string: "{nope"))
                #expect(try issues(malformed) == ["json_invalid@body.1"])

                #expect(try issues(try await client.execute(uri: "/items/abc", method: .get)) == ["int_parsing@path.id"])
                #expect(try issues(try await client.execute(uri: "/items/abc", method: .delete, headers: auth)) == ["int_parsing@path.id"])
                #expect(try issues(try await client.execute(uri: "/items?limit=501&offset=-1", method: .get)) == [
                    "less_than_equal@query.limit", "greater_than_equal@query.offset",
                ])
                #expect(try issues(try await client.execute(uri: "/items?limit=x", method: .get)) == ["int_parsing@query.limit"])
                let patch = try await client.execute(uri: "/items/x", method: .patch, headers: json, body: ByteBuffer(string: #"{"price": 0, "stock": -1, "name": ""}"#))
                #expect(try issues(patch) == ["int_parsing@path.id", "greater_than@body.price", "greater_than_equal@body.stock", "string_too_short@body.name"])
                let reserve = try await client.execute(uri: "/items/1/reserve", method: .post, headers: json, body: ByteBuffer(string: #"{"quantity": 0}"#))
                #expect(try issues(reserve) == ["greater_than_equal@body.quantity"])
                let reserveMissing = try await client.execute(uri: "/items/y/reserve", method: .post, headers: json, body: ByteBuffer(string: "{}"))
                #expect(try issues(reserveMissing) == ["int_parsing@path.id", "missing@body.quantity"])
                #expect(try issues(try await client.execute(uri: "/items/z/image", method: .post, headers: auth)) == ["int_parsing@path.id", "missing@body.file"])
            }
        }
    }

    static func multipart(field: String = "file", filename: String, contentType: String, content: String) -> (HTTPFields, ByteBuffer) {
        let boundary = "fleet-boundary-123"
        let body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: \(contentType)\r\n\r\n\(content)\r\n"
            + "--\(boundary)--\r\n"
        return ([.contentType: "multipart/form-data; boundary=\(boundary)"], ByteBuffer(string: body))
    }

    /// `multipart(...)` with a valid token.
    func upload(field: String = "file", filename: String, contentType: String, content: String) -> (HTTPFields, ByteBuffer) {
        let (form, body) = Self.multipart(field: field, filename: filename, contentType: contentType, content: content)
        var headers = form
        headers.append(contentsOf: auth)
        return (headers, body)
    }

    @Test func anImageIsUploadedStreamedToDiskAndDescribed() async throws {
        try await InProcessCatalog.with { service in
            let directory = service.directory
            try await api(service) { client async throws in
                let id = try #require(try await create(client, #"{"name": "Poster", "price": 5}"#)["id"] as? Int)
                let content = String(repeating: "PNGDATA", count: 1000)
                let (headers, body) = upload(filename: "../../etc/poster.png", contentType: "image/png", content: content)
                let response = try await client.execute(uri: "/items/\(id)/image", method: .post, headers: headers, body: body)
                #expect(response.status == .created)
                let info = try object(response.body)
                #expect(info["filename"] as? String == "poster.png")
                #expect(info["content_type"] as? String == "image/png")
                #expect(info["size"] as? Int == content.utf8.count)
                let stored = try String(contentsOfFile: "\(directory)/catalog-images/item-\(id)", encoding: .utf8)
                #expect(stored == content)
            }
        }
    }

    @Test func uploadsAreRefusedForTheWrongTypeAMissingFieldAnUnknownItemOrTooManyBytes() async throws {
        try await InProcessCatalog.with(configure: { $0.maxUploadBytes = 1024 }) { service in
            try await api(service, .live) { client async throws in
                let id = try #require(try await create(client, #"{"name": "Poster", "price": 5}"#)["id"] as? Int)
                let notMultipart = try await client.execute(uri: "/items/\(id)/image", method: .post, headers: json, body: ByteBuffer(string: "{}"))
                #expect(notMultipart.status == .unsupportedMediaType)
                let (headers, body) = upload(field: "picture", filename: "a.png", contentType: "image/png", content: "x")
                let missing = try await client.execute(uri: "/items/\(id)/image", method: .post, headers: headers, body: body)
                #expect(try issues(missing) == ["missing@body.file"])
                let (h2, b2) = upload(filename: "a.png", contentType: "image/png", content: "x")
                #expect(try await client.execute(uri: "/items/9999/image", method: .post, headers: h2, body: b2).status == .notFound)
                let (h3, b3) = upload(filename: "big.png", contentType: "image/png", content: String(repeating: "x", count: 4096))
                let big = try await client.execute(uri: "/items/\(id)/image", method: .post, headers: h3, body: b3)
                #expect(big.status == .contentTooLarge)
            }
        }
    }
}
