//! The 25 tools as `tools/list` describes them.
//!
//! Names and parameters are those of the Bitrix24 MCP server. That server
//! registers its tools without descriptions; ours have them, and MCP
//! annotations, because a gateway classifies risk from exactly these.

use serde_json::{Map, Value, json};

/// What a tool does to the CRM, which decides its annotations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// get*, check*: reads only.
    Read,
    /// create*, add*: adds a record; repeating it adds another.
    Create,
    /// update*: overwrites fields of an existing record.
    Update,
}

#[derive(Clone, Copy, Debug)]
enum Type {
    String,
    Boolean,
}

/// One input property.
#[derive(Clone, Copy, Debug)]
struct Param {
    name: &'static str,
    ty: Type,
    required: bool,
    description: &'static str,
}

const fn req(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        ty: Type::String,
        required: true,
        description,
    }
}

const fn opt(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        ty: Type::String,
        required: false,
        description,
    }
}

/// One tool of the catalog.
#[derive(Debug)]
struct Tool {
    name: &'static str,
    effect: Effect,
    description: &'static str,
    params: &'static [Param],
}

const FILTER: Param = opt(
    "filter",
    "Bitrix24 filter as a JSON object encoded in a string, e.g. {\"STATUS_ID\":\"NEW\"}. \
     Keys are UPPER_CASE field names; prefix a key with % for a case-insensitive substring \
     match, with ! for not-equal, or with >, >=, <, <= to compare.",
);

const LEAD_FIELDS: [Param; 6] = [
    opt("name", "Contact person's first name."),
    opt("lastName", "Contact person's last name."),
    opt("phone", "Work phone number, e.g. +1 415 555 0100."),
    opt("email", "Work e-mail address."),
    opt(
        "statusId",
        "Lead status ID (see getLeadStatuses), e.g. NEW or IN_PROCESS.",
    ),
    opt("title", "Lead title."),
];

const DEAL_FIELDS: [Param; 8] = [
    opt("contactId", "ID of the deal's contact."),
    opt("companyId", "ID of the deal's company."),
    opt(
        "categoryId",
        "Pipeline (deal category) ID; 0 is the default pipeline.",
    ),
    opt(
        "stageId",
        "Stage ID within the pipeline (see getDealStages), e.g. NEW or C1:NEW.",
    ),
    opt(
        "amount",
        "Deal amount as a decimal number in a string, e.g. 1500.00.",
    ),
    opt("currency", "ISO 4217 currency code, e.g. USD or EUR."),
    opt("responsibleId", "ID of the user responsible for the deal."),
    opt("title", "Deal title."),
];

macro_rules! tools {
    ($($name:literal $effect:ident $desc:literal [$($param:expr),* $(,)?];)*) => {
        [$(Tool { name: $name, effect: Effect::$effect, description: $desc, params: &[$($param),*] }),*]
    };
}

const TOOLS: [Tool; 25] = tools! {
    "getLeads" Read "List CRM leads, optionally filtered." [FILTER];
    "getLead" Read "Get one CRM lead by ID, with its phones and e-mails." [req("id", "Lead ID.")];
    "createLead" Create "Create a CRM lead. New leads start in status NEW unless statusId says otherwise." [
        req("title", "Lead title, e.g. 'Website inquiry: fleet tracking'."),
        LEAD_FIELDS[0], LEAD_FIELDS[1], LEAD_FIELDS[2], LEAD_FIELDS[3], LEAD_FIELDS[4]];
    "updateLead" Update "Update fields of a CRM lead; given fields overwrite the stored values." [
        req("id", "ID of the lead to update."),
        LEAD_FIELDS[5], LEAD_FIELDS[0], LEAD_FIELDS[1], LEAD_FIELDS[2], LEAD_FIELDS[3], LEAD_FIELDS[4]];
    "getDeals" Read "List CRM deals, optionally filtered." [FILTER];
    "getDeal" Read "Get one CRM deal by ID." [req("id", "Deal ID.")];
    "createDeal" Create "Create a CRM deal in a pipeline, optionally linked to a contact and a company." [
        req("title", "Deal title."),
        DEAL_FIELDS[0], DEAL_FIELDS[1], DEAL_FIELDS[2], DEAL_FIELDS[3],
        DEAL_FIELDS[4], DEAL_FIELDS[5], DEAL_FIELDS[6]];
    "updateDeal" Update "Update fields of a CRM deal (stage, amount, links); given fields overwrite the stored values." [
        req("id", "ID of the deal to update."),
        DEAL_FIELDS[7], DEAL_FIELDS[0], DEAL_FIELDS[1], DEAL_FIELDS[2], DEAL_FIELDS[3],
        DEAL_FIELDS[4], DEAL_FIELDS[5], DEAL_FIELDS[6]];
    "getContacts" Read "List CRM contacts, optionally filtered." [FILTER];
    "getContact" Read "Get one CRM contact by ID, with its phones and e-mails." [req("id", "Contact ID.")];
    "getActivities" Read "List CRM activities (calls, meetings, e-mails, to-dos), optionally filtered." [FILTER];
    "getActivity" Read "Get one CRM activity by ID." [req("id", "Activity ID.")];
    "createActivity" Create "Create a CRM activity (meeting, call, task or e-mail) on a lead, deal, contact or company." [
        req("ownerTypeId", "Owner type: 1 lead, 2 deal, 3 contact, 4 company."),
        req("ownerId", "ID of the owning lead, deal, contact or company."),
        req("typeId", "Activity type: 1 meeting, 2 call, 3 task, 4 e-mail."),
        req("subject", "Subject line."),
        opt("description", "Free-text description."),
        opt("responsibleId", "ID of the responsible user; defaults to the API user (1)."),
        opt("priority", "Priority: 1 low, 2 medium, 3 high.")];
    "updateActivity" Update "Update a CRM activity or mark it completed; given fields overwrite the stored values." [
        req("id", "ID of the activity to update."),
        opt("subject", "Subject line."),
        opt("description", "Free-text description."),
        opt("responsibleId", "ID of the responsible user."),
        opt("priority", "Priority: 1 low, 2 medium, 3 high."),
        Param { name: "completed", ty: Type::Boolean, required: false, description: "True to mark the activity done, false to reopen it." }];
    "getUsers" Read "List portal users (employees), optionally filtered." [FILTER];
    "getUser" Read "Get one portal user by ID." [req("id", "User ID.")];
    "getTasks" Read "List tasks, optionally filtered (STATUS: 2 pending, 3 in progress, 5 completed)." [FILTER];
    "getFile" Read "Get a Drive file's metadata (name, size, download URL) by ID." [req("id", "File ID.")];
    "getLeadStatuses" Read "List the lead statuses (the lead pipeline)." [];
    "getDealCategories" Read "List the deal pipelines (categories)." [];
    "getDealStages" Read "List the stages of a deal pipeline." [opt("categoryId", "Pipeline ID; defaults to 0, the default pipeline.")];
    "getCrmSummary" Read "Summarize the CRM: leads by status, deal amounts by currency, open activities, contacts and users." [];
    "checkApiConnection" Read "Check that the CRM API is reachable and report how many records it holds." [];
    "getCallStatistics" Read "Aggregate call activities (count, total and average duration) within an optional date range." [
        opt("dateFrom", "First day to include, YYYY-MM-DD."),
        opt("dateTo", "Last day to include, YYYY-MM-DD.")];
    "addTimelineComment" Create "Add a comment to the timeline of a lead, deal or contact." [
        req("entityType", "lead, deal or contact."),
        req("entityId", "ID of the lead, deal or contact."),
        req("comment", "Comment text.")];
};

/// The tool names, in catalog order.
pub(crate) fn names() -> Vec<&'static str> {
    TOOLS.iter().map(|t| t.name).collect()
}

/// True if a tool of this name exists.
pub(crate) fn exists(name: &str) -> bool {
    TOOLS.iter().any(|t| t.name == name)
}

/// The `tools` array of a `tools/list` result.
pub(crate) fn list() -> Value {
    Value::Array(TOOLS.iter().map(tool_json).collect())
}

fn tool_json(tool: &Tool) -> Value {
    let mut properties = Map::new();
    for p in tool.params {
        let ty = match p.ty {
            Type::String => "string",
            Type::Boolean => "boolean",
        };
        properties.insert(
            p.name.into(),
            json!({"type": ty, "description": p.description}),
        );
    }
    let required: Vec<&str> = tool
        .params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name)
        .collect();
    let (read_only, destructive, idempotent) = match tool.effect {
        Effect::Read => (true, false, true),
        Effect::Create => (false, false, false),
        Effect::Update => (false, true, true),
    };
    json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": {"type": "object", "properties": properties, "required": required},
        "annotations": {
            "readOnlyHint": read_only,
            "destructiveHint": destructive,
            "idempotentHint": idempotent,
            "openWorldHint": false,
        },
    })
}
