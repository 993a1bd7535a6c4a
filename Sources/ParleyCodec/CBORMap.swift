/// The entries of a CBOR map, in the order they were added or decoded.
///
/// Keys are unique: setting an existing key replaces its value. Lookup is linear, which is the fast
/// choice for the small maps of Parley's wire format.
public struct CBORMap: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var key: CBOR
        public var value: CBOR

        public init(key: CBOR, value: CBOR) {
            self.key = key
            self.value = value
        }
    }

    public private(set) var entries: [Entry]

    public init() { entries = [] }

    /// Entries whose keys the caller has already checked to be unique (the decoder does).
    init(uniqueEntries: [Entry]) { entries = uniqueEntries }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [CBOR] { entries.map(\.key) }

    public subscript(key: CBOR) -> CBOR? {
        get { entries.first(where: { $0.key == key })?.value }
        set {
            let index = entries.firstIndex(where: { $0.key == key })
            switch (index, newValue) {
            case (let i?, let v?): entries[i].value = v
            case (let i?, nil): entries.remove(at: i)
            case (nil, let v?): entries.append(Entry(key: key, value: v))
            case (nil, nil): break
            }
        }
    }

    public subscript(key: Int) -> CBOR? {
        get { self[.integer(key)] }
        set { self[.integer(key)] = newValue }
    }
}

extension CBORMap: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (CBOR, CBOR)...) {
        self.init()
        for (key, value) in elements { self[key] = value }
    }
}

extension CBORMap: Sequence {
    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
