import StateJSON
import Testing

@Suite struct ModelTests {
    @Test func objectKeepsInsertionOrderWithDictSemantics() {
        var o: JSONObject = ["b": 1, "a": 2]
        o["c"] = 3
        o["b"] = 4          // keeps its position
        #expect(o.keys == ["b", "a", "c"])
        #expect(o["b"] == 4)
        o["a"] = nil        // removal keeps the others' order
        #expect(o.keys == ["b", "c"])
        #expect(o.removeValue(forKey: "b") == 4)
        #expect(o.removeValue(forKey: "zzz") == nil)
        #expect(o.count == 1 && !o.isEmpty)
        let fromPairs = JSONObject([("x", 1), ("y", 2), ("x", 3)])
        #expect(fromPairs.keys == ["x", "y"] && fromPairs["x"] == 3)
        // Large objects (indexed) behave the same.
        var big = JSONObject()
        for i in 0..<100 { big["k\(i)"] = .number(JSONNumber(i)) }
        big["k10"] = "ten"
        big["k0"] = nil
        big["new"] = true
        #expect(big.count == 100)
        #expect(big.index(forKey: "k10") == 9)
        #expect(big["k99"] == 99)
        #expect(big.keys.last == "new")
        #expect(big.contains(key: "k1") && !big.contains(key: "k0"))
    }

    @Test func stringsCompareByCodeUnits() {
        let nfc = JSONString("\u{E9}"), nfd = JSONString("e\u{301}")
        #expect(nfc != nfd)                       // Swift's String == would say equal
        #expect(Set([nfc, nfd]).count == 2)
        let lone = JSONString(utf16CodeUnits: [0xD800])
        #expect(!lone.isWellFormed && lone.text == "\u{FFFD}" && lone.string == nil)
        #expect(lone != JSONString("\u{FFFD}"))
        let pair = JSONString(utf16CodeUnits: [0xD83D, 0xDE00])
        #expect(pair.isWellFormed && pair == "😀")
        #expect(JSONString(utf16CodeUnits: [0xD800]).hashValue == lone.hashValue)
        #expect(lone.debugDescription == #""\ud800""#)
        #expect(JSONString("abc singer_state x").contains("singer_state"))
        #expect(JSONString(utf16CodeUnits: Array("x singer_state".utf16) + [0xDC00]).contains("singer_state"))
        #expect(!JSONString(utf16CodeUnits: [0xDC00] + Array("singer_stat".utf16)).contains("singer_state"))
    }

    @Test func textStartingWithTheStorageMarkerRoundTrips() throws {
        // U+10FFFF marks the private storage form, so text starting with it must survive too.
        let raw = try JSONParser.parse("[\"\u{10FFFF}abc\", \"\\udbff\\udfffabc\", \"\u{10FFFF}\\ud800\", \"x\u{10FFFF}\"]")
        let strings = try #require(raw.arrayValue).map { $0.stringValue! }
        #expect(strings[0] == strings[1])
        #expect(strings[0] == JSONString("\u{10FFFF}abc"))
        #expect(strings[0].text == "\u{10FFFF}abc" && strings[0].isWellFormed && strings[0].string == "\u{10FFFF}abc")
        #expect(strings[0].utf16CodeUnits == [0xDBFF, 0xDFFF, 0x61, 0x62, 0x63])
        #expect(!strings[2].isWellFormed && strings[2].utf16CodeUnits == [0xDBFF, 0xDFFF, 0xD800])
        #expect(strings[3].text == "x\u{10FFFF}")
        #expect(raw.meltanoText == #"["\udbff\udfffabc", "\udbff\udfffabc", "\udbff\udfff\ud800", "x\udbff\udfff"]"#)
        #expect(raw.prettyText(indent: 0) == "[\n\"\u{10FFFF}abc\",\n\"\u{10FFFF}abc\",\n\"\u{10FFFF}\\ud800\",\n\"x\u{10FFFF}\"\n]")
        #expect(try JSONParser.parse(raw.meltanoText) == raw)
        var o = JSONObject()
        o["\u{10FFFF}k"] = 1
        #expect(o[JSONString(utf16CodeUnits: [0xDBFF, 0xDFFF, 0x6B])] == 1)
        #expect(strings[0].contains("abc") && !strings[0].contains("abd"))
    }

    @Test func valueAccessors() throws {
        let v = try JSONParser.parse(#"{"a": [true, null, "s", 1.5], "b": {}}"#)
        #expect(v["a"]?[0]?.boolValue == true)
        #expect(v["a"]?[1]?.isNull == true)
        #expect(v["a"]?[2]?.stringValue == "s")
        #expect(v["a"]?[3]?.numberValue?.doubleValue == 1.5)
        #expect(v["a"]?[4] == nil)
        #expect(v["missing"] == nil)
        #expect(v["b"]?.objectValue?.isEmpty == true)
        #expect(v.depth == 2)
        #expect(v.description == v.meltanoText)
        #expect(v.pythonTypeName == "dict")
        let types: [(String, String)] = [("null", "NoneType"), ("true", "bool"), ("1", "int"), ("1.0", "float"),
                                          ("1e5", "float"), ("NaN", "float"), ("\"s\"", "str"), ("[]", "list"), ("{}", "dict")]
        for (text, name) in types { #expect(try JSONParser.parse(text).pythonTypeName == name) }
    }

    @Test func structuralEqualityIsStrict() throws {
        let a = try JSONParser.parse(#"{"a": 1, "b": 2}"#)
        #expect(a == (try JSONParser.parse(#"{"a":1,"b":2}"#)))
        #expect(a != (try JSONParser.parse(#"{"b": 2, "a": 1}"#)))   // order matters
        #expect(a != (try JSONParser.parse(#"{"a": 1.0, "b": 2}"#)))  // literal text matters
        #expect(JSONValue.array([1, 2]) != JSONValue.array([1]))
        #expect(JSONValue.null != JSONValue.bool(false))
    }
}
