//! [`BankingGraph`]: a small, seeded banking graph (people who own accounts, and transactions
//! between accounts), its loader over Gremlin, and a [`GraphDigest`] (counts by label plus a
//! content hash) computed the same way from the generated data and from the live graph, so
//! "what was written is what is there" is one comparison.
//!
//! Shape: `person -owns-> account`, `account -debit-> transaction -credit-> account`.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::gremlin::{GremlinClient, GremlinError};

/// A person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Customer id, unique.
    pub customer_id: String,
    /// Display name.
    pub name: String,
}

/// An account, owned by one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// IBAN-like id, unique.
    pub iban: String,
    /// Balance in cents.
    pub balance: i64,
    /// Index into `persons`.
    pub owner: usize,
}

/// A transaction between two accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Unique id.
    pub txn_id: String,
    /// Amount in cents.
    pub amount: i64,
    /// Index into `accounts`.
    pub from: usize,
    /// Index into `accounts`.
    pub to: usize,
}

/// A generated graph.
#[derive(Debug, Clone)]
pub struct BankingGraph {
    /// People.
    pub persons: Vec<Person>,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Transactions.
    pub transactions: Vec<Transaction>,
}

/// Counts by label and a content hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GraphDigest {
    /// Vertices by label.
    pub vertices: BTreeMap<String, u64>,
    /// Edges by label.
    pub edges: BTreeMap<String, u64>,
    /// sha256 over the sorted canonical lines of every element.
    pub content_sha256: String,
}

impl BankingGraph {
    /// A deterministic graph for `seed`. `prefix` keeps ids of different loads apart.
    pub fn generate(seed: u64, prefix: &str, persons: usize, accounts: usize, txns: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let first = [
            "Ada", "Bo", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun",
        ];
        let last = [
            "Meyer", "Okafor", "Silva", "Novak", "Berg", "Tanaka", "Dubois", "Rossi",
        ];
        let persons: Vec<Person> = (0..persons)
            .map(|i| Person {
                customer_id: format!("{prefix}C{i:06}"),
                name: format!(
                    "{} {}",
                    first[rng.random_range(0..first.len())],
                    last[rng.random_range(0..last.len())]
                ),
            })
            .collect();
        let accounts: Vec<Account> = (0..accounts)
            .map(|i| Account {
                iban: format!("{prefix}DE{:020}", i),
                balance: rng.random_range(0..10_000_000),
                owner: if persons.is_empty() {
                    0
                } else {
                    i % persons.len()
                },
            })
            .collect();
        let transactions = (0..txns)
            .map(|i| {
                let from = rng.random_range(0..accounts.len().max(1));
                let mut to = rng.random_range(0..accounts.len().max(1));
                if to == from && accounts.len() > 1 {
                    to = (to + 1) % accounts.len();
                }
                Transaction {
                    txn_id: format!("{prefix}T{i:08}"),
                    amount: rng.random_range(1..500_000),
                    from,
                    to,
                }
            })
            .collect();
        Self {
            persons,
            accounts,
            transactions,
        }
    }

    /// The digest the live graph must have once this graph is loaded into an empty graph.
    pub fn expected_digest(&self) -> GraphDigest {
        let mut lines = Vec::new();
        for p in &self.persons {
            lines.push(person_line(&p.customer_id, &p.name));
        }
        for a in &self.accounts {
            lines.push(account_line(
                &a.iban,
                a.balance,
                &self.persons[a.owner].customer_id,
            ));
        }
        for t in &self.transactions {
            lines.push(txn_line(
                &t.txn_id,
                t.amount,
                &self.accounts[t.from].iban,
                &self.accounts[t.to].iban,
            ));
        }
        let n = |x: usize| x as u64;
        GraphDigest {
            vertices: BTreeMap::from([
                ("account".into(), n(self.accounts.len())),
                ("person".into(), n(self.persons.len())),
                ("transaction".into(), n(self.transactions.len())),
            ]),
            edges: BTreeMap::from([
                ("credit".into(), n(self.transactions.len())),
                ("debit".into(), n(self.transactions.len())),
                ("owns".into(), n(self.accounts.len())),
            ]),
            content_sha256: hash_lines(lines),
        }
    }

    /// Loads the graph in batches of `batch` elements per request. Returns the number of requests.
    pub async fn load(&self, client: &GremlinClient, batch: usize) -> Result<usize, GremlinError> {
        let batch = batch.max(1);
        let mut requests = 0;
        let mut person_ids = Vec::with_capacity(self.persons.len());
        for chunk in self.persons.chunks(batch) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|p| json!({"customer_id": p.customer_id, "name": p.name}))
                .collect();
            let ids = client
                .submit(
                    "def ids = []\n\
                     for (p in items) { ids << g.addV('person').property('customer_id', p.customer_id).property('name', p.name).id().next() }\n\
                     ids",
                    json!({ "items": items }),
                )
                .await?;
            person_ids.extend(ids);
            requests += 1;
        }
        let mut account_ids = Vec::with_capacity(self.accounts.len());
        for chunk in self.accounts.chunks(batch) {
            let items: Vec<Value> = chunk
                .iter()
                .map(
                    |a| json!({"iban": a.iban, "balance": a.balance, "owner": person_ids[a.owner]}),
                )
                .collect();
            let ids = client
                .submit(
                    "def ids = []\n\
                     for (a in items) { ids << g.V(a.owner).as('o').addV('account').property('iban', a.iban).property('balance', a.balance).as('a').addE('owns').from('o').select('a').id().next() }\n\
                     ids",
                    json!({ "items": items }),
                )
                .await?;
            account_ids.extend(ids);
            requests += 1;
        }
        for chunk in self.transactions.chunks(batch) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|t| {
                    json!({"txn_id": t.txn_id, "amount": t.amount,
                           "from": account_ids[t.from], "to": account_ids[t.to]})
                })
                .collect();
            client
                .submit(
                    "for (t in items) { g.addV('transaction').property('txn_id', t.txn_id).property('amount', t.amount).as('t')\
                     .addE('debit').from(__.V(t.from)).select('t').addE('credit').to(__.V(t.to)).iterate() }\n\
                     items.size()",
                    json!({ "items": items }),
                )
                .await?;
            requests += 1;
        }
        Ok(requests)
    }

    /// Reads the live graph's digest (whole graph: meant for test-sized graphs).
    pub async fn live_digest(client: &GremlinClient) -> Result<GraphDigest, GremlinError> {
        let counts = |r: Vec<Value>| -> BTreeMap<String, u64> {
            r.into_iter()
                .next()
                .and_then(|m| m.as_object().cloned())
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_u64().unwrap_or(0)))
                .collect()
        };
        let vertices = counts(
            client
                .submit("g.V().groupCount().by(label)", json!({}))
                .await?,
        );
        let edges = counts(
            client
                .submit("g.E().groupCount().by(label)", json!({}))
                .await?,
        );
        let mut lines = Vec::new();
        for p in client
            .submit(
                "g.V().hasLabel('person').project('c','n').by('customer_id').by('name')",
                json!({}),
            )
            .await?
        {
            lines.push(person_line(str_of(&p["c"]), str_of(&p["n"])));
        }
        for a in client
            .submit(
                "g.V().hasLabel('account').project('i','b','o').by('iban').by('balance').by(__.in('owns').values('customer_id').fold())",
                json!({}),
            )
            .await?
        {
            let owners: Vec<&str> = a["o"]
                .as_array()
                .map(|v| v.iter().map(str_of).collect())
                .unwrap_or_default();
            lines.push(account_line(
                str_of(&a["i"]),
                a["b"].as_i64().unwrap_or(i64::MIN),
                &owners.join("|"),
            ));
        }
        for t in client
            .submit(
                "g.V().hasLabel('transaction').project('i','a','f','t').by('txn_id').by('amount')\
                 .by(__.in('debit').values('iban').fold()).by(__.out('credit').values('iban').fold())",
                json!({}),
            )
            .await?
        {
            let join = |v: &Value| -> String {
                v.as_array()
                    .map(|a| a.iter().map(str_of).collect::<Vec<_>>().join("|"))
                    .unwrap_or_default()
            };
            lines.push(txn_line(
                str_of(&t["i"]),
                t["a"].as_i64().unwrap_or(i64::MIN),
                &join(&t["f"]),
                &join(&t["t"]),
            ));
        }
        Ok(GraphDigest {
            vertices,
            edges,
            content_sha256: hash_lines(lines),
        })
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn person_line(id: &str, name: &str) -> String {
    format!("person\t{id}\t{name}")
}

fn account_line(iban: &str, balance: i64, owner: &str) -> String {
    format!("account\t{iban}\t{balance}\t{owner}")
}

fn txn_line(id: &str, amount: i64, from: &str, to: &str) -> String {
    format!("transaction\t{id}\t{amount}\t{from}\t{to}")
}

fn hash_lines(mut lines: Vec<String>) -> String {
    lines.sort_unstable();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_digest_counts_match() {
        let a = BankingGraph::generate(7, "x", 10, 15, 30);
        let b = BankingGraph::generate(7, "x", 10, 15, 30);
        assert_eq!(a.expected_digest(), b.expected_digest());
        let d = a.expected_digest();
        assert_eq!(d.vertices["transaction"], 30);
        assert_eq!(d.edges["owns"], 15);
        assert!(a.transactions.iter().all(|t| t.from != t.to));
        let c = BankingGraph::generate(8, "x", 10, 15, 30);
        assert_ne!(
            a.expected_digest().content_sha256,
            c.expected_digest().content_sha256
        );
    }
}
