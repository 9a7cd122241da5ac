import ServiceKitMacros
import SwiftSyntaxMacrosGenericTestSupport
import SwiftSyntaxMacros
import SwiftSyntaxMacroExpansion
import Testing

/// What `@Model` refuses at compile time, and what it generates.
struct ModelMacroTests {
    let macros: [String: MacroSpec] = ["Model": MacroSpec(type: ModelMacro.self, conformances: ["Model"]), "Field": MacroSpec(type: FieldMacro.self), "Hidden": MacroSpec(type: HiddenMacro.self)]

    func diagnostics(of source: String) -> [String] {
        var messages: [String] = []
        assertMacroExpansion(
            source, expandedSource: source, macroSpecs: macros,
            failureHandler: { failure in messages.append(failure.message) }
        )
        return messages.joined(separator: "\n").components(separatedBy: "\n")
    }

    @Test func aLengthConstraintOnAnIntegerIsACompileError() {
        let messages = diagnostics(of: """
            @Model struct Pet {
                @Field(minLength: 1) var age: Int
            }
            """)
        #expect(messages.contains { $0.contains("'minLength' applies to String, but field 'age' is Int") })
    }

    @Test func aPatternThatDoesNotCompileIsACompileErrorNamingTheField() {
        let messages = diagnostics(of: """
            @Model struct Pet {
                @Field(pattern: "^[a-z+$") var name: String
                @Field(itemPattern: "(unclosed") var tags: [String]
            }
            """)
        #expect(messages.contains { $0.contains("'pattern' of field 'name': '^[a-z+$' is not a valid regular expression") })
        #expect(messages.contains { $0.contains("'itemPattern' of field 'tags': '(unclosed' is not a valid regular expression") })
    }

    @Test func aBoundOnAStringIsACompileError() {
        let messages = diagnostics(of: """
            @Model struct Pet {
                @Field(gt: 0) var name: String
            }
            """)
        #expect(messages.contains { $0.contains("'gt' applies to a number, but field 'name' is String") })
    }

    @Test func anItemCountOnAScalarIsACompileError() {
        let messages = diagnostics(of: """
            @Model struct Pet {
                @Field(maxItems: 3) var name: String?
            }
            """)
        #expect(messages.contains { $0.contains("'maxItems' applies to an array, but field 'name' is String") })
    }

    @Test func aModelOnAClassIsACompileError() {
        let messages = diagnostics(of: "@Model class Pet { var name: String = \"\" }")
        #expect(messages.contains { $0.contains("@Model applies to a struct") })
    }

    @Test func aHiddenPropertyWithoutADefaultIsACompileError() {
        let messages = diagnostics(of: """
            @Model struct Pet {
                @Hidden var version: Int
            }
            """)
        #expect(messages.contains { $0.contains("@Hidden property 'version' needs an explicit type and a default value") })
    }

    @Test func fieldKeysAreSnakeCaseAndConstraintsBecomeTypedRules() {
        var expanded = ""
        assertMacroExpansion(
            """
            @Model public struct Item {
                @Field(minLength: 1, maxLength: 100) public var displayName: String
                @Field(gt: 0) public var price: Double
                public var tags: [String] = []
            }
            """,
            expandedSource: "", macroSpecs: macros,
            failureHandler: { failure in expanded += failure.message }
        )
        #expect(expanded.contains(#"reader.read("display_name", Self.__rules_displayName)"#))
        #expect(expanded.contains("ServiceKit.FieldRules<String>().strings(minLength: 1, maxLength: 100)"))
        #expect(expanded.contains("ServiceKit.FieldRules<Double>().bounds(gt: 0)"))
        #expect(expanded.contains(#"reader.read("tags", Self.__rules_tags, default: [])"#))
        #expect(expanded.contains("public init(displayName: String, price: Double, tags: [String] = [])"))
    }
}
