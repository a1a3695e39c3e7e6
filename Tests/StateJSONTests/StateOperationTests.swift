import Foundation
import StateJSON
import Testing
import TestSupport

@Suite struct MergeTests {
    func v(_ text: String) -> JSONValue { try! JSONParser.parse(text) }

    func merged(_ source: String, _ target: String) throws -> String {
        try deepMerge(v(source), onto: v(target)).meltanoText
    }

    func mergeError(_ source: String, _ target: String) -> MergeError? {
        do {
            _ = try deepMerge(v(source), onto: v(target))
            return nil
        } catch {
            return error
        }
    }

    @Test func objectsMergeRecursivelyEverythingElseReplaces() throws {
        #expect(try merged(#"{"a": 1}"#, "{}") == #"{"a": 1}"#)
        #expect(try merged(#"{"a": {"b": 1}}"#, #"{"a": {"c": 2}, "d": 3}"#) == #"{"a": {"c": 2, "b": 1}, "d": 3}"#)
        #expect(try merged(#"{"a": [1]}"#, #"{"a": [2, 3]}"#) == #"{"a": [1]}"#)
        #expect(try merged(#"{"a": null}"#, #"{"a": {"x": 1}}"#) == #"{"a": null}"#)
        #expect(try merged(#"{"a": 5}"#, #"{"a": {"x": 1}}"#) == #"{"a": 5}"#)
        #expect(try merged(#"{"b": 9}"#, #"{"a": 1, "b": 2, "c": 3}"#) == #"{"a": 1, "b": 9, "c": 3}"#)
        #expect(try merged(#"{"z": 1, "a": 2}"#, #"{"a": 0, "b": 1}"#) == #"{"a": 2, "b": 1, "z": 1}"#)
        #expect(try merged(#"{"a": {"b": {"c": 1}}}"#, "{}") == #"{"a": {"b": {"c": 1}}}"#)
        #expect(try merged(#"{"n": {}}"#, #"{"a": 1}"#) == #"{"a": 1, "n": {}}"#)
        #expect(try merged("{}", #"{"a": 1}"#) == #"{"a": 1}"#)
        #expect(try merged(#"{"a": 1.10, "b": -0}"#, "{}") == #"{"a": 1.1, "b": 0}"#)
        // Where there is no key to write, a non-object target is left alone.
        #expect(try merged("{}", "5") == "5")
        #expect(try merged("{}", "[1]") == "[1]")
        #expect(try merged("{}", "null") == "null")
        #expect(try merged(#"{"a": {}}"#, #"{"a": 5}"#) == #"{"a": 5}"#)
        #expect(try merged(#"{"a": {"b": {}}}"#, #"{"a": {"b": "s"}}"#) == #"{"a": {"b": "s"}}"#)
        // The Singer shape: a partial bookmark onto a completed state.
        let completed = #"{"singer_state": {"bookmarks": {"s1": {"v": 1}, "s2": {"v": 2}}, "currently_syncing": "s2"}}"#
        let partial = #"{"singer_state": {"bookmarks": {"s2": {"v": 3, "lsn": 12345678901234567890}}, "currently_syncing": null}}"#
        #expect(try merged(partial, completed) ==
            #"{"singer_state": {"bookmarks": {"s1": {"v": 1}, "s2": {"v": 3, "lsn": 12345678901234567890}}, "currently_syncing": null}}"#)
    }

    @Test func failuresAsMeltano() throws {
        let intTarget = try #require(mergeError(#"{"a": {"b": 1}}"#, #"{"a": 5}"#))
        #expect(intTarget.reason == .targetNotObject(key: "b", pythonType: "int"))
        #expect(intTarget.path == ["a"])
        #expect(intTarget.message == "cannot merge key 'b' into a int")
        #expect(intTarget.description == "cannot merge key 'b' into a int (at 'a')")
        #expect(mergeError(#"{"a": 1}"#, "[1]")?.description == "cannot merge key 'a' into a list")
        #expect(mergeError(#"{"a": 1}"#, "null")?.message == "cannot merge key 'a' into a NoneType")
        #expect(mergeError(#"{"a": {"b": 1}}"#, #"{"a": null}"#)?.message == "cannot merge key 'b' into a NoneType")
        #expect(mergeError(#"{"a": {"b": 1}}"#, #"{"a": "s"}"#)?.message == "cannot merge key 'b' into a str")
        #expect(mergeError(#"{"a": {"b": 1}}"#, #"{"a": 1.5}"#)?.message == "cannot merge key 'b' into a float")
        #expect(mergeError(#"{"a": {"b": 1}}"#, #"{"a": true}"#)?.message == "cannot merge key 'b' into a bool")
        #expect(mergeError(#"{"x": {"y": {"it's": 1}}}"#, #"{"x": {"y": []}}"#)?.description
            == #"cannot merge key "it's" into a list (at 'x' → 'y')"#)
        #expect(mergeError("[1]", "{}")?.message == "cannot merge a list (only objects merge)")
        #expect(mergeError("\"s\"", "{}")?.message == "cannot merge a str (only objects merge)")
        #expect(mergeError("null", "{}")?.message == "cannot merge a NoneType (only objects merge)")
        #expect(mergeError("1", "{}")?.message == "cannot merge a int (only objects merge)")
    }

    @Test func pythonReprOfKeys() {
        #expect(pythonRepr("a") == "'a'")
        #expect(pythonRepr("it's") == #""it's""#)
        #expect(pythonRepr(#"it's "q""#) == #"'it\'s "q"'"#)
        #expect(pythonRepr("a\\b\n\t\r") == #"'a\\b\n\t\r'"#)
        #expect(pythonRepr("é😀\u{1}\u{7F}\u{85}\u{200B}\u{A0}") == #"'é😀\x01\x7f\x85\u200b\xa0'"#)
        #expect(pythonRepr(JSONString(utf16CodeUnits: [0xD800])) == #"'\ud800'"#)
    }
}

@Suite struct ValidationTests {
    func v(_ text: String) -> JSONValue { try! JSONParser.parse(text) }

    func singerStateError(_ text: String) -> String? {
        do {
            try validateSingerState(v(text))
            return nil
        } catch {
            return error.message
        }
    }

    static let missing = "Invalid state format: singer_state not found in top level of provided state. State must be valid JSON with a top-level 'singer_state' key."

    @Test func singerStateCheckIsPythonsIn() {
        #expect(singerStateError(#"{"singer_state": {}}"#) == nil)
        #expect(singerStateError(#"{"singer_state": null, "x": 1}"#) == nil)
        #expect(singerStateError(#"["a", "singer_state"]"#) == nil)
        #expect(singerStateError(#""my singer_state text""#) == nil)
        #expect(singerStateError(#"{"bookmarks": {"singer_state": 1}}"#) == Self.missing)  // top level only
        #expect(singerStateError(#"{"Singer_State": 1}"#) == Self.missing)
        #expect(singerStateError(#"[["singer_state"]]"#) == Self.missing)
        #expect(singerStateError(#"["singer_state_x"]"#) == Self.missing)
        #expect(singerStateError("{}") == Self.missing)
        #expect(singerStateError("[]") == Self.missing)
        #expect(singerStateError(#""""#) == Self.missing)
        #expect(singerStateError("1") == "argument of type 'int' is not iterable")
        #expect(singerStateError("1.5") == "argument of type 'float' is not iterable")
        #expect(singerStateError("NaN") == "argument of type 'float' is not iterable")
        #expect(singerStateError("true") == "argument of type 'bool' is not iterable")
        #expect(singerStateError("null") == "argument of type 'NoneType' is not iterable")
        #expect(StateValidationError.singerStateMissing.message == Self.missing)
    }

    @Test func payloadMustBeAnObjectOrNull() throws {
        try validateStatePayload(v("{}"))
        try validateStatePayload(v("null"))
        let cases = [("[]", "list"), ("\"s\"", "str"), ("1", "int"), ("1.5", "float"), ("true", "bool")]
        for (text, type) in cases {
            #expect(throws: StateValidationError(.notAPayload, message: "Attribute 'payload' does not accept objects of type <class '\(type)'>")) {
                try validateStatePayload(v(text))
            }
        }
        // set: both checks in Meltano's order; --no-validate skips the first only.
        #expect(throws: StateValidationError(.notAPayload, message: "Attribute 'payload' does not accept objects of type <class 'list'>")) {
            try validateStateForSet(v(#"["singer_state"]"#))
        }
        #expect(throws: StateValidationError.singerStateMissing) { try validateStateForSet(v("[]")) }
        #expect(throws: StateValidationError(.notAPayload, message: "Attribute 'payload' does not accept objects of type <class 'list'>")) {
            try validateStateForSet(v("[]"), validate: false)
        }
        try validateStateForSet(v("{}"), validate: false)
        try validateStateForSet(v("null"), validate: false)
        #expect(throws: StateValidationError(.notIterable, message: "argument of type 'NoneType' is not iterable")) {
            try validateStateForSet(v("null"))
        }
    }
}

@Suite struct EquivalenceTests {
    func eq(_ a: String, _ b: String) -> Bool {
        try! JSONParser.parse(a).isEquivalent(to: JSONParser.parse(b))
    }

    @Test func pythonEquality() {
        #expect(eq(#"{"a": 1, "b": 2}"#, #"{"b": 2, "a": 1}"#))
        #expect(eq("1", "1.0") && eq("-0", "0") && eq("0", "-0.0") && eq("1e2", "100"))
        #expect(eq("true", "1") && eq("false", "0.0") && !eq("true", "2"))
        #expect(!eq("NaN", "NaN") && eq("Infinity", "1e400"))
        #expect(eq("[NaN]", "[NaN]") && eq(#"{"a": NaN}"#, #"{"a": NaN}"#) && !eq("[NaN]", "[1]"))  // json's shared NaN
        #expect(eq("9007199254740992", "9007199254740992.0"))
        #expect(!eq("9007199254740993", "9007199254740993.0"))  // the float rounds; Python compares exactly
        #expect(eq("1e300", "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160"))
        #expect(!eq("[1, 2]", "[2, 1]") && !eq(#"{"a": 1}"#, #"{"a": 1, "b": 2}"#) && !eq("null", "0"))
        #expect(!eq(#""\u00e9""#, "\"e\u{301}\""))
        #expect(eq(#"{"a": [1, {"b": null}]}"#, #"{"a": [1.0, {"b": null}]}"#))
    }
}

/// The reference model (scripts/reference/meltano_backend_ref.py) decides: its own
/// deep_merge, has_singer_state and accepted functions, loaded without psycopg.
@Suite struct ReferenceDifferentialTests {
    static var referencePath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/reference/meltano_backend_ref.py").path
    }

    static let script = #"""
import ast, json, sys
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)
src = open(sys.argv[1], encoding="utf-8").read()
tree = ast.parse(src)
keep = [n for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))
        and n.name in ("Failure", "deep_merge", "has_singer_state", "accepted")]
ns = {}
exec(compile(ast.Module(body=keep, type_ignores=[]), "ref", "exec"), ns)
Failure = ns["Failure"]
out = []
for line in sys.stdin:
    kind, *args = line.split()
    vals = [json.loads(bytes.fromhex(a).decode()) for a in (args[:1] if kind == "V" else args)]
    try:
        if kind == "M":
            r = json.dumps(ns["deep_merge"](vals[0], vals[1]))
        elif kind == "V":
            ns["accepted"](vals[0], args[1] == "1")
            r = "ok"
        else:
            r = "True" if vals[0] == vals[1] else "False"
        out.append("R " + r.encode().hex())
    except Failure as e:
        out.append("F " + str(e).encode().hex())
sys.stdout.write("\n".join(out) + "\n")
"""#

    mutating func randomValue(_ rng: inout SeededRandom, depth: Int) -> JSONValue {
        let keys: [JSONString] = ["a", "b", "c", "singer_state", "it's"]
        switch rng.int(0...(depth > 3 ? 6 : 9)) {
        case 0: return .null
        case 1: return .bool(rng.chance(0.5))
        case 2: return .number(JSONNumber(rng.int(-2...2)))
        case 3: return .number(JSONNumber(literal: rng.pick(["1.0", "-0", "0", "1e2", "100", "NaN", "2.5"]))!)
        case 4: return .string(rng.pick(["x", "singer_state", "a singer_state b", ""]))
        case 5, 6: return .array((0..<rng.int(0...2)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o = JSONObject()
            for _ in 0..<rng.int(0...3) { o[rng.pick(keys)] = randomValue(&rng, depth: depth + 1) }
            return .object(o)
        }
    }

    /// The same data as Python sees it, written differently: keys reordered, `1` as
    /// `1.0`, `true` as `1`, `-0` as `0.0`.
    func variant(of value: JSONValue, _ rng: inout SeededRandom) -> JSONValue {
        switch value {
        case .object(let o):
            var pairs = Array(o)
            pairs.shuffle(using: &rng)
            return .object(JSONObject(pairs.map { ($0.key, variant(of: $0.value, &rng)) }))
        case .array(let a):
            return .array(a.map { variant(of: $0, &rng) })
        case .number(let n) where n.isInteger && rng.chance(0.5):
            return .number(JSONNumber(literal: n.literal == "-0" ? "0.0" : n.literal + ".0")!)
        case .bool(let b) where rng.chance(0.5):
            return .number(JSONNumber(b ? 1 : 0))
        default:
            return value
        }
    }

    @Test mutating func mergeValidationAndEqualityMatchTheReference() throws {
        var rng = SeededRandom(seed: 0xDEE9)
        enum Op { case merge(JSONValue, JSONValue), validate(JSONValue, Bool), equal(JSONValue, JSONValue) }
        var ops: [Op] = []
        for i in 0..<6000 {
            let a = randomValue(&rng, depth: 0), b = randomValue(&rng, depth: 0)
            switch i % 3 {
            case 0:
                // Mostly objects, so merges go deep.
                let source: JSONValue = rng.chance(0.9) ? .object(a.objectValue ?? ["a": a]) : a
                let target: JSONValue = rng.chance(0.8) ? .object(b.objectValue ?? ["a": b]) : b
                ops.append(.merge(source, target))
            case 1:
                ops.append(.validate(rng.chance(0.3) ? ["singer_state": a] : a, rng.chance(0.8)))
            default:
                let other: JSONValue
                switch rng.int(0...2) {
                case 0: other = a
                case 1: other = variant(of: a, &rng)  // reordered keys, other number forms
                default: other = b
                }
                ops.append(.equal(a, other))
            }
        }
        var input = ""
        for op in ops {
            switch op {
            case .merge(let s, let t): input += "M \(hex(s.meltanoText.utf8)) \(hex(t.meltanoText.utf8))\n"
            case .validate(let v, let flag): input += "V \(hex(v.meltanoText.utf8)) \(flag ? 1 : 0)\n"
            case .equal(let a, let b): input += "Q \(hex(a.meltanoText.utf8)) \(hex(b.meltanoText.utf8))\n"
            }
        }
        try #require(FileManager.default.fileExists(atPath: Self.referencePath), "no reference model at \(Self.referencePath)")
        signal(SIGPIPE, SIG_IGN)
        let output = try runProcess("python3", ["-c", Self.script, Self.referencePath], stdin: Data(input.utf8))
        try #require(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n")
        try #require(lines.count == ops.count)
        var mismatches: [String] = []
        var failures = 0
        for (op, line) in zip(ops, lines) {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            let expected = String(decoding: unhex(parts[1]), as: UTF8.self)
            let failed = parts[0] == "F"
            if failed { failures += 1 }
            let ours: (Bool, String)
            switch op {
            case .merge(let s, let t):
                do { ours = (false, try deepMerge(s, onto: t).meltanoText) } catch { ours = (true, error.message) }
            case .validate(let v, let flag):
                do { try validateStateForSet(v, validate: flag); ours = (false, "ok") } catch { ours = (true, error.message) }
            case .equal(let a, let b):
                ours = (false, a.isEquivalent(to: b) ? "True" : "False")
            }
            if ours != (failed, expected) {
                mismatches.append("\(op): ours \(ours), reference \(failed ? "failure" : "result") \(expected)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differences:\n\(mismatches.prefix(10).joined(separator: "\n"))")
        #expect(failures > 200)
        print("ReferenceDifferentialTests: \(ops.count) merge/validation/equality cases agree with the reference (\(failures) failures among them)")
    }
}

/// The text paths of a merge into a big state: `checkDeepMerge` (the merge check without
/// the target's tree) against `deepMerge`, and `JSONParser.rewritten` against `rewrite`.
@Suite struct MergeOntoTextTests {
    /// A source that reaches into `target` where it can: objects at keys the target has
    /// (whatever their value there, so some merges fail), scalars, `{}`, new keys.
    static func source(reaching target: JSONValue, _ rng: inout SeededRandom, depth: Int = 0) -> JSONValue {
        var source = JSONObject()
        if case let .object(object) = target {
            for (key, value) in object where rng.chance(0.5) {
                switch rng.below(4) {
                case 0: source[key] = .number(JSONNumber(rng.below(100)))
                case 1: source[key] = .object(JSONObject())
                default: source[key] = depth < 6 ? Self.source(reaching: value, &rng, depth: depth + 1) : ["leaf": 1]
                }
            }
        }
        if rng.chance(0.3) { source["new\(rng.below(3))"] = rng.chance(0.5) ? ["x": ["y": 1]] : "s" }
        if source.isEmpty && rng.chance(0.2) { source["k"] = ["z": 1] }  // into a scalar target: an error
        return .object(source)
    }

    /// A source that merges: objects only where the target has objects (or no key).
    static func mergeableSource(reaching target: JSONValue, _ rng: inout SeededRandom, depth: Int = 0) -> JSONValue {
        var source = JSONObject()
        if case let .object(object) = target {
            for (key, value) in object where rng.chance(0.4) {
                if case .object = value, depth < 6, rng.chance(0.7) {
                    source[key] = Self.mergeableSource(reaching: value, &rng, depth: depth + 1)
                } else {
                    source[key] = [.number(JSONNumber(rng.below(100))), .null, ["a", 1.5], .object(JSONObject()), "ü\u{1}"][rng.below(5)]
                }
            }
            if rng.chance(0.4) { source["added\(depth)"] = rng.chance(0.5) ? ["x": ["y": [:]]] : .bool(true) }
        }
        return .object(source)
    }

    static func outcome(_ body: () throws(MergeError) -> Void) -> String {
        do throws(MergeError) {
            try body()
            return "merges"
        } catch {
            return "\(error.reason) at \(error.path)"
        }
    }

    @Test func checkDeepMergeThrowsWhatDeepMergeThrowsOnGeneratedDocuments() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0042)
        var rng = SeededRandom(seed: 0x5EED_0043)
        var texts = RewriterTests.corpus(&generator, documents: 1500, mutated: 0)
        texts += ["5", "[1, {\"a\": 1}]", "\"s\"", "null", " {\"a\" : { \"b\" : 3 } } ", #"{"\u0061": {"b": [1]}, "c": 1E5}"#,
                  #"{"singer_state": {"bookmarks": {"s": {"v": NaN}, "t": -Infinity, "u": "x"}}}"#]
        var checked = 0, failures = 0, reached = 0
        for text in texts {
            let bytes = Array(text.utf8)
            guard RewritableDocument(bytes) != nil, let target = try? JSONParser.parse(bytes) else { continue }
            for _ in 0..<4 {
                let source = rng.chance(0.05) ? JSONValue.array([]) : Self.source(reaching: target, &rng)
                let expected = Self.outcome { () throws(MergeError) in _ = try deepMerge(source, onto: target) }
                let got = Self.outcome { () throws(MergeError) in
                    let checked: Result<Void, MergeError> = bytes.withUnsafeBytes { buffer in
                        Result { () throws(MergeError) in try checkDeepMerge(source, ontoText: buffer) }
                    }
                    try checked.get()
                }
                #expect(got == expected, "\(source.meltanoText) onto \(text.debugDescription)")
                checked += 1
                if expected != "merges" { failures += 1 }
                if source.depth > 1 && target.depth > 1 { reached += 1 }
            }
        }
        // Both outcomes, many times, and merges that reach below the top.
        #expect(checked > 4000 && failures > 1000 && reached > 300, "\(checked) checked, \(failures) failures, \(reached) reaching")
    }

    /// Copy, move and get of a state with a partial part: the merged view's text from
    /// the completed text, byte for byte what the tree's merge writes, or its error.
    @Test func deepMergedMeltanoTextIsTheTreesTextOnGeneratedDocuments() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0045)
        var rng = SeededRandom(seed: 0x5EED_0046)
        var texts = RewriterTests.corpus(&generator, documents: 1500, mutated: 0)
        texts += ["{}", "5", "[1, {\"a\": 1}]", "null", #"{"a": {}, "b": {"c": {}}}"#, #"{"\u00e9": {"b": [1]}, "c": 1E5}"#,
                  #"{"singer_state": {"bookmarks": {"s": {"v": NaN}, "t": -Infinity, "u": "x"}}}"#]
        var checked = 0, failures = 0, reached = 0, added = 0
        for text in texts {
            guard let parsed = try? JSONParser.parse(text), RewritableDocument(Array(text.utf8)) != nil else { continue }
            // As generated (often not an object), and inside a state's object.
            let wrapped: JSONValue = ["singer_state": ["bookmarks": parsed, "currently_syncing": .null], "\u{e9}": [:]]
            for (round, target) in [parsed, wrapped].enumerated() {
                let stored = Array(target.meltanoText.utf8)  // as Meltano and this tool store it
                for _ in 0..<(round == 0 ? 2 : 3) {
                    var source = rng.chance(0.05) ? JSONValue.array([]) : rng.chance(0.5) ? Self.source(reaching: target, &rng)
                        : Self.mergeableSource(reaching: target, &rng)
                    if rng.chance(0.1), case var .object(object) = source {
                        object["n\u{e9}w"] = ["deep": ["é": [1, 2.50, "x"], "e": [:]]]
                        source = .object(object)
                    }
                    let expected: String
                    do throws(MergeError) { expected = try deepMerge(source, onto: target).meltanoText } catch { expected = "\(error.reason) at \(error.path)" }
                    let got: String = stored.withUnsafeBytes { buffer in
                        do throws(MergeError) {
                            return String(decoding: try deepMergedMeltanoText(source, ontoMeltanoText: buffer).bytes, as: UTF8.self)
                        } catch {
                            return "\(error.reason) at \(error.path)"
                        }
                    }
                    #expect(got == expected, "\(source.meltanoText) onto \(text.debugDescription)")
                    checked += 1
                    if !expected.hasPrefix("{") && !expected.hasPrefix("[") { failures += 1 }
                    if source.depth > 1 && target.depth > 1 && expected.hasPrefix("{") { reached += 1 }
                    if expected.hasPrefix("{") && expected.utf8.count > stored.count { added += 1 }
                }
            }
        }
        // Merges that fail and that write, that reach below the top and that add keys.
        #expect(checked > 4000 && failures > 1000 && checked - failures > 1000 && reached > 300 && added > 300,
                "\(checked) checked, \(failures) failures, \(reached) reaching, \(added) adding")
    }

    @Test func pythonTypeNameOfValueTextIsTheTrees() throws {
        for text in ["{}", " [1]", "\"s\"", "true", "false", "null", "0", "-12", "1.5", "1e5", "-0", "NaN", "-Infinity", "Infinity",
                     "12345678901234567890", "\n\t{\"a\": 1}"] {
            let name = Array(text.utf8).withUnsafeBytes { JSONParser.pythonTypeName(ofValueText: $0) }
            #expect(name == (try JSONParser.parse(text)).pythonTypeName, "\(text)")
        }
    }

    @Test func rewrittenIsTheRewriteOrSameOrNil() throws {
        var generator = DocumentGenerator(seed: 0x5EED_0044)
        var texts = RewriterTests.corpus(&generator, documents: 800, mutated: 300)
        texts += [#"{"a": 1, "a": 2}"#, "not json", #"{"singer_state": {"a": 1}}"#, #"{"a":1}"#, "[1, 2.50]", "[1, 2.5]", "{\"é\": \"\\u00e9\"}"]
        var same = 0, rewritten = 0, refused = 0
        for text in texts {
            var bytes = Array(text.utf8)
            let result = bytes.withUnsafeMutableBytes { JSONParser.rewritten(UnsafeRawBufferPointer($0), .meltano) }
            guard let document = RewritableDocument(bytes), let value = try? document.parsed() else {
                #expect(result == nil, "\(text.debugDescription)")
                refused += 1
                continue
            }
            switch result {
            case nil:
                Issue.record("nil for \(text.debugDescription)")
            case .same?:
                #expect(text == value.meltanoText, "\(text.debugDescription)")
                same += 1
            case let .text(written)?:
                #expect(written == value.meltanoText && written != text, "\(text.debugDescription)")
                rewritten += 1
            }
        }
        #expect(same > 5 && rewritten > 500 && refused > 100, "\(same) same, \(rewritten) rewritten, \(refused) refused")
    }
}
