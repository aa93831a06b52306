//! The in-memory CRM: tables of Bitrix24-shaped records.
//!
//! Records are JSON objects with Bitrix24's UPPER_CASE field names, kept as
//! `serde_json` maps so that what a tool returns is exactly what is stored.
//! The server runs on one task, so the store needs no locks.

use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::filter::Filter;
use crate::seed;

/// One CRM record, keyed by Bitrix24 field name.
pub(crate) type Record = Map<String, Value>;

/// A table of records with numeric string IDs assigned in order.
#[derive(Debug)]
pub(crate) struct Table {
    /// The entity's name in messages ("Lead", "Deal", ...).
    pub(crate) entity: &'static str,
    rows: Vec<Record>,
    next_id: u64,
}

impl Table {
    /// A table seeded with `rows`, whose IDs are assigned 1, 2, 3, ...
    pub(crate) fn seeded(entity: &'static str, rows: Vec<Record>) -> Table {
        let mut table = Table {
            entity,
            rows: Vec::with_capacity(rows.len()),
            next_id: 1,
        };
        for row in rows {
            table.insert(row);
        }
        table
    }

    /// Stores `record` under the next ID (written to its `ID` field) and
    /// returns that ID.
    pub(crate) fn insert(&mut self, mut record: Record) -> String {
        let id = self.next_id.to_string();
        self.next_id += 1;
        // ID first, as Bitrix24 lists it; the map preserves insertion order.
        let mut row = Record::new();
        row.insert("ID".into(), Value::String(id.clone()));
        record.remove("ID");
        row.append(&mut record);
        self.rows.push(row);
        id
    }

    /// The record with this ID.
    pub(crate) fn get(&self, id: &str) -> Option<&Record> {
        self.rows.iter().find(|r| field_str(r, "ID") == Some(id))
    }

    /// The record with this ID, for an update.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Record> {
        self.rows
            .iter_mut()
            .find(|r| field_str(r, "ID") == Some(id))
    }

    /// Every record, in ID order.
    pub(crate) fn rows(&self) -> &[Record] {
        &self.rows
    }

    /// Copies of the records that `filter` matches, in ID order.
    pub(crate) fn select(&self, filter: &Filter) -> Vec<Value> {
        self.rows
            .iter()
            .filter(|r| filter.matches(r))
            .map(|r| Value::Object(r.clone()))
            .collect()
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// A string field of a record, if present and a string.
pub(crate) fn field_str<'a>(record: &'a Record, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str)
}

/// The whole CRM: entity tables, reference lists and the logical clock.
#[derive(Debug)]
pub(crate) struct Crm {
    /// `crm.lead.*`
    pub(crate) leads: Table,
    /// `crm.deal.*`
    pub(crate) deals: Table,
    /// `crm.contact.*`
    pub(crate) contacts: Table,
    /// `crm.company.*`: no tool lists them, but deals and contacts refer to them.
    pub(crate) companies: Table,
    /// `crm.activity.*`: calls, meetings, e-mails.
    pub(crate) activities: Table,
    /// `user.*`
    pub(crate) users: Table,
    /// `tasks.task.*`
    pub(crate) tasks: Table,
    /// `disk.file.*` (metadata only).
    pub(crate) files: Table,
    /// `crm.timeline.comment.*`
    pub(crate) comments: Table,
    /// `crm.status.list` for ENTITY_ID = STATUS.
    pub(crate) lead_statuses: Vec<Record>,
    /// `crm.dealcategory.list`, including the default category "0".
    pub(crate) deal_categories: Vec<Record>,
    /// `crm.dealcategory.stage.list`, per category ID.
    pub(crate) deal_stages: Vec<(&'static str, Vec<Record>)>,
    /// Stamps DATE_CREATE / DATE_MODIFY.
    pub(crate) clock: Clock,
    /// IDs of multi-field values (PHONE, EMAIL), unique across entities as in
    /// Bitrix24.
    multifield_seq: u64,
}

impl Crm {
    /// The CRM with its deterministic demo data.
    pub(crate) fn seeded() -> Crm {
        let mut crm = Crm {
            leads: Table::seeded("Lead", Vec::new()),
            deals: Table::seeded("Deal", seed::deals()),
            contacts: Table::seeded("Contact", Vec::new()),
            companies: Table::seeded("Company", seed::companies()),
            activities: Table::seeded("Activity", seed::activities()),
            users: Table::seeded("User", seed::users()),
            tasks: Table::seeded("Task", seed::tasks()),
            files: Table::seeded("File", seed::files()),
            comments: Table::seeded("Comment", Vec::new()),
            lead_statuses: seed::lead_statuses(),
            deal_categories: seed::deal_categories(),
            deal_stages: seed::deal_stages(),
            clock: Clock::default(),
            multifield_seq: 0,
        };
        // Leads and contacts carry multi-fields, which take IDs from the CRM.
        for lead in seed::leads(&mut crm) {
            crm.leads.insert(lead);
        }
        for contact in seed::contacts(&mut crm) {
            crm.contacts.insert(contact);
        }
        crm
    }

    /// Sets a multi-field (`PHONE` or `EMAIL`) to one WORK value, replacing
    /// any previous values, and its `HAS_PHONE` / `HAS_EMAIL` flag.
    pub(crate) fn set_multifield(&mut self, record: &mut Record, field: &str, value: &str) {
        self.multifield_seq += 1;
        let values = serde_json::json!([{
            "ID": self.multifield_seq.to_string(),
            "VALUE_TYPE": "WORK",
            "VALUE": value,
            "TYPE_ID": field,
        }]);
        record.insert(format!("HAS_{field}"), Value::String("Y".into()));
        record.insert(field.to_string(), values);
    }

    /// The stages of a deal category, if the category exists.
    pub(crate) fn stages_of(&self, category_id: &str) -> Option<&[Record]> {
        self.deal_stages
            .iter()
            .find(|(id, _)| *id == category_id)
            .map(|(_, stages)| stages.as_slice())
    }

    /// Total number of entity records, as `checkApiConnection` reports.
    pub(crate) fn record_count(&self) -> usize {
        [
            &self.leads,
            &self.deals,
            &self.contacts,
            &self.companies,
            &self.activities,
            &self.users,
            &self.tasks,
            &self.files,
            &self.comments,
        ]
        .iter()
        .map(|t| t.len())
        .sum()
    }
}

/// Builds a record from a `json!` object literal (anything else is empty).
pub(crate) fn record(value: Value) -> Record {
    match value {
        Value::Object(map) => map,
        _ => Record::new(),
    }
}
