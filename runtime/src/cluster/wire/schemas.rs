//! The table of stream schemas both ends of a connection agree on, so a tuple names its
//! component, stream and fields with a 16-bit index.

use rustc_hash::FxHashMap;

use super::WireError;
use crate::api::tuple::{Fields, StreamSchema};
use crate::topology::yaml::ValidTopology;

/// Every (component, stream) of a topology, sorted, each with its 16-bit wire index.
///
/// Built deterministically: two workers that build it from the same topology get the
/// same indices and the same [`digest`](SchemaTable::digest), which the connection
/// handshake compares. Tick tuples never cross workers, so the tick schema is never in
/// the table.
#[derive(Debug, Clone)]
pub struct SchemaTable {
    schemas: Vec<&'static StreamSchema>,
    /// Schema address -> index (interned schemas are unique per triple).
    by_addr: FxHashMap<usize, u16>,
    digest: u64,
}

fn addr(s: &'static StreamSchema) -> usize {
    std::ptr::from_ref(s) as usize
}

impl SchemaTable {
    /// The table of every stream every component of `topo` declares.
    pub fn from_topology(topo: &ValidTopology) -> Result<SchemaTable, WireError> {
        SchemaTable::from_schemas(topo.components.iter().flat_map(|c| {
            c.streams.iter().map(|s| {
                StreamSchema::intern(&c.def.id, &s.id, &Fields::new(s.fields.iter().cloned()))
            })
        }))
    }

    /// A table of these schemas, sorted by (component, stream, fields) and deduplicated;
    /// the tick schema is left out.
    pub fn from_schemas(
        schemas: impl IntoIterator<Item = &'static StreamSchema>,
    ) -> Result<SchemaTable, WireError> {
        let tick = StreamSchema::tick();
        let mut schemas: Vec<&'static StreamSchema> = schemas
            .into_iter()
            .filter(|s| !std::ptr::eq(*s, tick))
            .collect();
        schemas.sort_by(|a, b| {
            (&a.component, &a.stream, a.fields.names()).cmp(&(
                &b.component,
                &b.stream,
                b.fields.names(),
            ))
        });
        schemas.dedup_by(|a, b| a == b);
        if schemas.len() > usize::from(u16::MAX) + 1 {
            return Err(WireError::TooManySchemas {
                count: schemas.len(),
            });
        }
        let mut by_addr = FxHashMap::default();
        let mut digest = Fnv::new();
        for (i, s) in schemas.iter().enumerate() {
            by_addr.insert(addr(s), i as u16);
            digest.str(&s.component);
            digest.str(&s.stream);
            digest.u64(s.fields.len() as u64);
            for f in s.fields.names() {
                digest.str(f);
            }
        }
        Ok(SchemaTable {
            schemas,
            by_addr,
            digest: digest.0,
        })
    }

    /// The wire index of `schema`, if the table has it.
    #[inline]
    pub fn index_of(&self, schema: &'static StreamSchema) -> Option<u16> {
        if let Some(&i) = self.by_addr.get(&addr(schema)) {
            return Some(i);
        }
        // Not the interned instance (built by hand): compare by value.
        self.schemas
            .iter()
            .position(|s| *s == schema)
            .map(|i| i as u16)
    }

    /// The schema at `index`.
    #[inline]
    pub fn get(&self, index: u16) -> Option<&'static StreamSchema> {
        self.schemas.get(usize::from(index)).copied()
    }

    /// Number of schemas.
    pub fn len(&self) -> usize {
        self.schemas.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.schemas.is_empty()
    }

    /// The schemas in index order.
    pub fn schemas(&self) -> &[&'static StreamSchema] {
        &self.schemas
    }

    /// A stable 64-bit digest (FNV-1a) of every schema in order: equal digests mean the
    /// same indices name the same streams with the same fields.
    pub fn digest(&self) -> u64 {
        self.digest
    }
}

/// FNV-1a, 64 bits: stable across processes, builds and platforms.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}
