import Foundation
import ParleyProtocol
import ParleyCodec

/// Archive items (Protocol/ARCHIVE.md). Every item is a CBOR array `[kind, map]`.
enum ArchiveKind: UInt64 {
    case header = 0
    case message = 1
    case receipt = 2
    case outgoingChannel = 3
    case incomingChannel = 4
    case trailer = 9
}

/// The archive header.
public struct ArchiveHeader: Hashable, Sendable {
    public static let magic = "parley-archive"
    public static let formatVersion: UInt64 = 1
    public var formatVersion: UInt64
    /// The participant whose node exported the archive.
    public var exporter: String
    /// Messages stored (queued or accepted) at or after this time...
    public var from: Date
    /// ...and strictly before this one.
    public var to: Date
    public var created: Date
    public var storeSchemaVersion: UInt64
}

/// One (message, recipient) delivery as archived.
public struct ArchivedDelivery: Hashable, Sendable {
    public var recipient: String
    public var sequenceNumber: UInt64
    public var state: DeliveryState
    public var attempts: UInt64
    public var nextAttempt: Date
    public var updated: Date
    public var lastError: String?
    /// Digest of the receipt that settled it; that receipt follows the message in the archive.
    public var receiptDigest: Data?
}

/// The inbox entry of a received message as archived.
public struct ArchivedInboxEntry: Hashable, Sendable {
    public var recipient: String
    public var sequenceNumber: UInt64
    /// Digest of the receipt this node issued; that receipt follows the message in the archive.
    public var receiptDigest: Data
}

/// A message item: the exact signed bytes plus the index fields.
public struct ArchivedMessage: Hashable, Sendable {
    public var direction: MessageDirection
    public var sender: String
    public var fields: MessageFields
    public var stored: Date
    /// Sent messages: one per recipient, sorted by recipient.
    public var deliveries: [ArchivedDelivery]
    /// Received messages.
    public var inbox: ArchivedInboxEntry?
}

/// One item of an archive, as handed to `ParleyStore.readArchive`.
public enum ArchiveEntry: Hashable, Sendable {
    case message(ArchivedMessage)
    case receipt(StoredReceipt)
    case outgoingChannel(OutgoingChannel)
    case incomingChannel(IncomingChannel)
}

/// What an archive holds, as checked by its trailer.
public struct ArchiveSummary: Hashable, Sendable {
    public var header: ArchiveHeader
    public var messages: Int
    public var receipts: Int
    public var channels: Int
    /// SHA-256 over every byte before the trailer, as recorded in (and checked against) the trailer.
    public var digest: Data
    /// Size of the file in bytes.
    public var size: Int
}

/// What an import added.
public struct ImportSummary: Hashable, Sendable {
    public var archive: ArchiveSummary
    public var messagesAdded: Int
    public var messagesAlreadyPresent: Int
    public var receiptsAdded: Int
    public var receiptsAlreadyPresent: Int
    public var channelsAdded: Int
    public var channelsAlreadyPresent: Int
}

// MARK: - Item encoding

enum ArchiveItems {
    static let deliveryStates: [DeliveryState] = [.pending, .inFlight, .delivered, .rejected, .expired, .cancelled]

    static func header(_ h: ArchiveHeader) -> CBOR {
        .array([
            .uint(ArchiveKind.header.rawValue),
            .intMap([
                1: .tstr(ArchiveHeader.magic),
                2: .uint(h.formatVersion),
                3: .tstr(h.exporter),
                4: .time(StoreTime.seconds(h.from)),
                5: .time(StoreTime.seconds(h.to)),
                6: .time(StoreTime.seconds(h.created)),
                7: .uint(h.storeSchemaVersion),
            ]),
        ])
    }

    static func message(_ m: ArchivedMessage) -> CBOR {
        var map: [UInt64: CBOR] = [
            1: .uint(UInt64(m.direction.rawValue)),
            2: .bstr(m.fields.bytes),
            3: .bstr(m.fields.id.data),
            4: .tstr(m.sender),
            5: .uint(m.fields.type),
            6: .time(StoreTime.seconds(m.fields.created)),
            7: .time(StoreTime.seconds(m.stored)),
        ]
        if !m.fields.references.isEmpty {
            map[8] = .array(m.fields.references.map { .array([.bstr($0.target.data), .uint($0.relation.rawValue)]) })
        }
        if let remarks = m.fields.remarks {
            map[9] = .array([.tstr(remarks.language), .tstr(remarks.text)])
        }
        if !m.deliveries.isEmpty {
            map[10] = .array(
                m.deliveries.map { d in
                    var entry: [UInt64: CBOR] = [
                        1: .tstr(d.recipient),
                        2: .uint(d.sequenceNumber),
                        3: .uint(UInt64(deliveryStates.firstIndex(of: d.state)!)),
                        4: .uint(d.attempts),
                        5: .time(StoreTime.seconds(d.nextAttempt)),
                        6: .time(StoreTime.seconds(d.updated)),
                    ]
                    if let error = d.lastError { entry[7] = .tstr(error) }
                    if let digest = d.receiptDigest { entry[8] = .bstr(digest) }
                    return .intMap(entry)
                }
            )
        }
        if let inbox = m.inbox {
            map[11] = .intMap([
                1: .tstr(inbox.recipient), 2: .uint(inbox.sequenceNumber), 3: .bstr(inbox.receiptDigest),
            ])
        }
        return .array([.uint(ArchiveKind.message.rawValue), .intMap(map)])
    }

    static func receipt(_ r: StoredReceipt) -> CBOR {
        var map: [UInt64: CBOR] = [
            1: .uint(UInt64(r.direction.rawValue)),
            2: .bstr(r.bytes),
            3: .bstr(r.messageID.data),
            4: .tstr(r.signer),
            5: .uint(r.status.code),
            6: .time(StoreTime.seconds(r.stored)),
        ]
        if case .rejected(let code, let reason) = r.status {
            map[7] = .array([.uint(code), .tstr(reason)])
        }
        return .array([.uint(ArchiveKind.receipt.rawValue), .intMap(map)])
    }

    static func outgoing(_ c: OutgoingChannel) -> CBOR {
        .array([
            .uint(ArchiveKind.outgoingChannel.rawValue),
            .intMap([
                1: .tstr(c.sender), 2: .tstr(c.recipient), 3: .uint(c.nextSequenceNumber),
            ]),
        ])
    }

    static func incoming(_ c: IncomingChannel) -> CBOR {
        var map: [UInt64: CBOR] = [
            1: .tstr(c.sender), 2: .tstr(c.recipient), 3: .uint(c.contiguous), 4: .uint(c.highest),
        ]
        if !c.gaps.isEmpty {
            map[5] = .array(
                c.gaps.map {
                    .array([
                        .uint($0.missing.lowerBound), .uint($0.missing.upperBound),
                        .time(StoreTime.seconds($0.detected)),
                    ])
                }
            )
        }
        return .array([.uint(ArchiveKind.incomingChannel.rawValue), .intMap(map)])
    }

    static func trailer(messages: Int, receipts: Int, channels: Int, digest: Data) -> CBOR {
        .array([
            .uint(ArchiveKind.trailer.rawValue),
            .intMap([
                1: .uint(UInt64(messages)), 2: .uint(UInt64(receipts)), 3: .uint(UInt64(channels)), 4: .bstr(digest),
            ]),
        ])
    }
}

// MARK: - Item decoding

struct ArchiveItemDecoder {
    let index: Int

    func invalid(_ what: String) -> StoreError {
        StoreError(
            .archiveInvalid,
            "archive item \(index): \(what); the archive is damaged or was not written by Parley"
        )
    }

    func split(_ item: CBOR) throws(StoreError) -> (ArchiveKind, [UInt64: CBOR]) {
        guard let parts = item.arrayValue, parts.count == 2, let rawKind = parts[0].uint64Value,
            let map = parts[1].archiveMap
        else {
            throw invalid("not a [kind, map] pair")
        }
        guard let kind = ArchiveKind(rawValue: rawKind) else { throw invalid("unknown item kind \(rawKind)") }
        return (kind, map)
    }

    func checkKeys(
        _ map: [UInt64: CBOR],
        allowed: ClosedRange<UInt64>,
        required: [UInt64],
        _ what: String
    ) throws(StoreError) {
        for key in map.keys where !allowed.contains(key) { throw invalid("\(what) has unknown key \(key)") }
        for key in required where map[key] == nil { throw invalid("\(what) lacks key \(key)") }
    }

    func uint(
        _ map: [UInt64: CBOR],
        _ key: UInt64,
        _ what: String,
        max: UInt64 = UInt64(Int64.max)
    ) throws(StoreError) -> UInt64 {
        guard let value = map[key]?.uint64Value, value <= max else {
            throw invalid("\(what) (key \(key)) is not an unsigned integer ≤ \(max)")
        }
        return value
    }

    func text(_ map: [UInt64: CBOR], _ key: UInt64, _ what: String) throws(StoreError) -> String {
        guard let value = map[key]?.textValue else { throw invalid("\(what) (key \(key)) is not a text string") }
        return value
    }

    func pid(_ map: [UInt64: CBOR], _ key: UInt64, _ what: String) throws(StoreError) -> String {
        let value = try text(map, key, what)
        guard ParticipantIDRule.isValid(value) else {
            throw invalid("\(what) \(value.debugDescription) is not a participant id")
        }
        return value
    }

    func bytes(_ map: [UInt64: CBOR], _ key: UInt64, _ what: String, size: Int? = nil) throws(StoreError) -> Data {
        guard let value = map[key]?.archiveBytes, size == nil || value.count == size else {
            throw invalid("\(what) (key \(key)) is not a byte string\(size.map { " of \($0) bytes" } ?? "")")
        }
        return value
    }

    func time(_ map: [UInt64: CBOR], _ key: UInt64, _ what: String) throws(StoreError) -> Date {
        guard let value = map[key]?.archiveTime else { throw invalid("\(what) (key \(key)) is not a time #6.1(uint)") }
        return StoreTime.date(value)
    }

    func header(_ map: [UInt64: CBOR]) throws(StoreError) -> ArchiveHeader {
        try checkKeys(map, allowed: 1...7, required: Array(1...7), "header")
        guard try text(map, 1, "magic") == ArchiveHeader.magic else {
            throw invalid("header magic is not \"parley-archive\"")
        }
        let version = try uint(map, 2, "format version")
        guard version == ArchiveHeader.formatVersion else {
            throw StoreError(
                .archiveInvalid,
                "archive format version \(version) is not supported (this software reads version \(ArchiveHeader.formatVersion)); use newer software"
            )
        }
        return ArchiveHeader(
            formatVersion: version,
            exporter: try pid(map, 3, "exporter"),
            from: try time(map, 4, "from"),
            to: try time(map, 5, "to"),
            created: try time(map, 6, "created"),
            storeSchemaVersion: try uint(map, 7, "store schema version")
        )
    }

    func message(_ map: [UInt64: CBOR]) throws(StoreError) -> ArchivedMessage {
        try checkKeys(map, allowed: 1...11, required: Array(1...7), "message")
        guard let direction = MessageDirection(rawValue: Int(try uint(map, 1, "direction", max: 1))) else {
            throw invalid("bad direction")
        }
        let bytes = try bytes(map, 2, "message bytes")
        guard !bytes.isEmpty else { throw invalid("empty message bytes") }
        let id = MessageID(try self.bytes(map, 3, "message id", size: 16))!
        var references = [MessageReference]()
        if let refs = map[8] {
            guard let list = refs.arrayValue, !list.isEmpty else { throw invalid("refs is not a non-empty array") }
            for ref in list {
                guard let pair = ref.arrayValue, pair.count == 2,
                    let target = pair[0].archiveBytes.flatMap({ MessageID($0) }),
                    let code = pair[1].uint64Value, let relation = Relation(rawValue: code)
                else { throw invalid("bad reference in message \(id)") }
                if let previous = references.last,
                    !(previous.target.precedes(target)
                        || (previous.target == target && previous.relation.rawValue < relation.rawValue))
                {
                    throw invalid("refs of message \(id) not sorted by id then relation, or repeated")
                }
                references.append(MessageReference(target: target, relation: relation))
            }
        }
        var remarks: LocalizedText?
        if let value = map[9] {
            guard let pair = value.arrayValue, pair.count == 2, let lang = pair[0].textValue,
                let text = pair[1].textValue
            else { throw invalid("bad remarks in message \(id)") }
            do { remarks = try LocalizedText(language: lang, text: text) } catch {
                throw invalid("bad remarks in message \(id): \(error)")
            }
        }
        var deliveries = [ArchivedDelivery]()
        var inbox: ArchivedInboxEntry?
        switch direction {
        case .sent:
            guard map[11] == nil, let list = map[10]?.arrayValue, !list.isEmpty else {
                throw invalid("sent message \(id) needs deliveries (key 10) and no inbox entry")
            }
            for entry in list {
                guard let d = entry.archiveMap else { throw invalid("delivery of \(id) is not a map") }
                try checkKeys(d, allowed: 1...8, required: Array(1...6), "delivery of \(id)")
                let state = try uint(d, 3, "delivery state", max: UInt64(ArchiveItems.deliveryStates.count - 1))
                deliveries.append(
                    ArchivedDelivery(
                        recipient: try pid(d, 1, "recipient"),
                        sequenceNumber: try uint(d, 2, "sequence number"),
                        state: ArchiveItems.deliveryStates[Int(state)],
                        attempts: try uint(d, 4, "attempts"),
                        nextAttempt: try time(d, 5, "next attempt"),
                        updated: try time(d, 6, "updated"),
                        lastError: d[7] == nil ? nil : try text(d, 7, "last error"),
                        receiptDigest: d[8] == nil ? nil : try self.bytes(d, 8, "receipt digest", size: 32)
                    )
                )
                if deliveries.count > 1,
                    !deliveries[deliveries.count - 2].recipient.utf8.lexicographicallyPrecedes(
                        deliveries.last!.recipient.utf8
                    )
                {
                    throw invalid("deliveries of message \(id) not sorted by recipient, or repeated")
                }
            }
        case .received:
            guard map[10] == nil, let entry = map[11]?.archiveMap else {
                throw invalid("received message \(id) needs an inbox entry (key 11) and no deliveries")
            }
            try checkKeys(entry, allowed: 1...3, required: [1, 2, 3], "inbox entry of \(id)")
            inbox = ArchivedInboxEntry(
                recipient: try pid(entry, 1, "recipient"),
                sequenceNumber: try uint(entry, 2, "sequence number"),
                receiptDigest: try self.bytes(entry, 3, "receipt digest", size: 32)
            )
        }
        let fields = MessageFields(
            id: id,
            bytes: bytes,
            type: try uint(map, 5, "type"),
            created: try time(map, 6, "created"),
            references: references,
            remarks: remarks
        )
        return ArchivedMessage(
            direction: direction,
            sender: try pid(map, 4, "sender"),
            fields: fields,
            stored: try time(map, 7, "stored"),
            deliveries: deliveries,
            inbox: inbox
        )
    }

    func receipt(_ map: [UInt64: CBOR]) throws(StoreError) -> StoredReceipt {
        try checkKeys(map, allowed: 1...7, required: Array(1...6), "receipt")
        guard let direction = StoredReceipt.Direction(rawValue: Int(try uint(map, 1, "direction", max: 1))) else {
            throw invalid("bad direction")
        }
        let bytes = try bytes(map, 2, "receipt bytes")
        guard !bytes.isEmpty else { throw invalid("empty receipt bytes") }
        let status: ReceiptStatus
        switch try uint(map, 5, "status", max: 2) {
        case 0: status = .accepted
        case 1: status = .duplicate
        default:
            guard let pair = map[7]?.arrayValue, pair.count == 2, let code = pair[0].uint64Value,
                code <= UInt64(Int64.max), let reason = pair[1].textValue
            else {
                throw invalid("rejected receipt lacks [code, reason] (key 7)")
            }
            status = .rejected(code: code, reason: reason)
        }
        if status.code != 2 && map[7] != nil { throw invalid("rejection given for a receipt that is not rejected") }
        return StoredReceipt(
            direction: direction,
            messageID: MessageID(try self.bytes(map, 3, "message id", size: 16))!,
            signer: try pid(map, 4, "signer"),
            status: status,
            stored: try time(map, 6, "stored"),
            bytes: bytes,
            digest: bytes.sha256
        )
    }

    func outgoing(_ map: [UInt64: CBOR]) throws(StoreError) -> OutgoingChannel {
        try checkKeys(map, allowed: 1...3, required: [1, 2, 3], "outgoing channel")
        let next = try uint(map, 3, "next sequence number")
        guard next >= 1 else { throw invalid("next sequence number 0") }
        return OutgoingChannel(
            sender: try pid(map, 1, "sender"),
            recipient: try pid(map, 2, "recipient"),
            nextSequenceNumber: next
        )
    }

    func incoming(_ map: [UInt64: CBOR]) throws(StoreError) -> IncomingChannel {
        try checkKeys(map, allowed: 1...5, required: [1, 2, 3, 4], "incoming channel")
        let sender = try pid(map, 1, "sender")
        let recipient = try pid(map, 2, "recipient")
        let contiguous = try uint(map, 3, "contiguous")
        let highest = try uint(map, 4, "highest")
        guard highest >= contiguous else {
            throw invalid("incoming channel \(sender)→\(recipient): highest < contiguous")
        }
        var gaps = [ChannelGap]()
        if let list = map[5] {
            guard let items = list.arrayValue, !items.isEmpty else { throw invalid("gaps is not a non-empty array") }
            for item in items {
                guard let triple = item.arrayValue, triple.count == 3, let first = triple[0].uint64Value,
                    let last = triple[1].uint64Value,
                    first >= 1, last >= first, last <= highest, first > contiguous, let detected = triple[2].archiveTime
                else {
                    throw invalid("bad gap in incoming channel \(sender)→\(recipient)")
                }
                if let previous = gaps.last, first <= previous.missing.upperBound + 1 {
                    throw invalid("gaps of incoming channel \(sender)→\(recipient) not ascending and separate")
                }
                gaps.append(
                    ChannelGap(
                        sender: sender,
                        recipient: recipient,
                        missing: first...last,
                        detected: StoreTime.date(detected)
                    )
                )
            }
        }
        return IncomingChannel(
            sender: sender,
            recipient: recipient,
            contiguous: contiguous,
            highest: highest,
            gaps: gaps
        )
    }
}
