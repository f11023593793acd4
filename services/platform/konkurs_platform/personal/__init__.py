"""Personal data inside the events: sealed per data subject, erasable by destroying a key.

A field holding personal data is marked in its schema with the option
`(konkurs.types.v1.personal)` (the kind of data). Nothing else makes it personal: the
`sealing` functions find the marked fields of any event by reflection over its descriptor.

- On the way into an event (`SealingEventStore.append`) each marked value is encrypted with
  AES-GCM under the random data key of its data subject, and the field holds the text form
  `pd1:<base64url(nonce | ciphertext)>`. The associated data binds the ciphertext to the
  subject and the field, so a sealed value copied into another person's field or another
  field does not open. The clear value never reaches the event store, the outbox, Kafka or
  the audit log.
- The data subject of a value is `<stream id>/<path of the message holding it>`, e.g.
  `application-<uuid>/content.contact`: the application and the role the person plays in it,
  stable across the application's revisions and computable by every reader of the event.
- The keys live in the key store (`keystore.KeyStore`, schema `keystore`), granted only to
  the services whose spec asks for it (`ServiceSpec.personal_data`).
- Erasing a subject deletes its key and records a tombstone: from then on every value sealed
  under it opens as `ERASED`, in every reader and every rebuild, while the events keep their
  bytes and the audit chain still verifies.
"""
