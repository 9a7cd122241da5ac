import ServiceKit
import Testing

/// Request bodies are parsed into raw JSON types, so validation can tell `1` from `"1"`.
@Suite struct JSONParserTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    @Test func scalarsKeepTheirJSONTypes() throws {
        #expect(try parse(#"{"i": 1, "d": 1.5, "e": 2e3, "n": -0, "s": "1", "t": true, "f": false, "z": null}"#) == .object([
            "i": .int(1), "d": .double(1.5), "e": .double(2000), "n": .int(0), "s": .string("1"),
            "t": .bool(true), "f": .bool(false), "z": .null,
        ]))
        #expect(try parse("[1, [2, []], {}]") == .array([.int(1), .array([.int(2), .array([])]), .object([:])]))
        #expect(try parse("99999999999999999999") == .double(1e20))
    }

    @Test func escapesAndUnicodeAreDecoded() throws {
        #expect(try parse(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\n\té😀"))
        #expect(try parse("\"héllo\"") == .string("héllo"))
    }

    @Test(arguments: ["", "{", "{\"a\" 1}", "[1,]", "01", "1.", "tru", "\"abc", "{\"a\":1}x", "\"\\x\"", "\"\\ud800\"", "[" + String(repeating: "[", count: 300)])
    func malformedTextIsAJSONInvalidIssue(text: String) throws {
        let failure = #expect(throws: ValidationFailure.self) { try parse(text) }
        #expect(failure?.issues.first?.type == "json_invalid")
    }
}
