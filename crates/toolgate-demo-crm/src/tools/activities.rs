//! Activities (`crm.activity.*`): meetings, calls, tasks and e-mails on CRM
//! records, and the call statistics derived from them.

use serde_json::{Value, json};

use super::args::Args;
use super::{ToolError, check_user, find, get_many, get_one, require_change, set_opt};
use crate::clock::Date;
use crate::store::{Crm, Table, field_str, record};

const OWNER_TYPES: [&str; 4] = ["1", "2", "3", "4"];
const ACTIVITY_TYPES: [&str; 4] = ["1", "2", "3", "4"];
const PRIORITIES: [&str; 3] = ["1", "2", "3"];
const PRIORITY_MEANING: &str = "1 (low), 2 (medium) or 3 (high)";
const CALL: &str = "2";

/// The table an OWNER_TYPE_ID refers to.
fn owner_table<'a>(crm: &'a Crm, owner_type: &str) -> Option<&'a Table> {
    match owner_type {
        "1" => Some(&crm.leads),
        "2" => Some(&crm.deals),
        "3" => Some(&crm.contacts),
        "4" => Some(&crm.companies),
        _ => None,
    }
}

/// PROVIDER_ID, PROVIDER_TYPE_ID and DIRECTION Bitrix24 gives a new activity
/// of this TYPE_ID (calls and e-mails created through the API are outgoing).
fn provider(type_id: &str) -> (&'static str, &'static str, &'static str) {
    match type_id {
        "1" => ("CRM_MEETING", "MEETING", "0"),
        "2" => ("VOXIMPLANT_CALL", "CALL", "2"),
        "3" => ("CRM_TASKS_TASK", "TASK", "0"),
        _ => ("CRM_EMAIL", "EMAIL", "2"),
    }
}

/// getActivities
pub(super) fn get_activities(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_many(&crm.activities, args, "activities")
}

/// getActivity
pub(super) fn get_activity(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_one(&crm.activities, args)
}

/// createActivity: an open activity on an existing lead, deal, contact or
/// company, scheduled now.
pub(super) fn create_activity(crm: &mut Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let owner_meaning = "1 (lead), 2 (deal), 3 (contact) or 4 (company)";
    let type_meaning = "1 (meeting), 2 (call), 3 (task) or 4 (e-mail)";
    let owner_type = args.choice("ownerTypeId", &OWNER_TYPES, owner_meaning)?;
    let owner_type = owner_type.ok_or_else(|| missing("ownerTypeId"))?;
    let owner_id = args.id("ownerId")?;
    let type_id = args.choice("typeId", &ACTIVITY_TYPES, type_meaning)?;
    let type_id = type_id.ok_or_else(|| missing("typeId"))?;
    let subject = args.required("subject")?;
    let description = args.text("description")?.unwrap_or("");
    let responsible = args.opt_id("responsibleId")?.unwrap_or("1");
    let priority = args.choice("priority", &PRIORITIES, PRIORITY_MEANING)?;
    if let Some(owners) = owner_table(crm, owner_type) {
        find(owners, owner_id)?;
    }
    check_user(crm, responsible)?;
    let (provider_id, provider_type, direction) = provider(type_id);
    let now = crm.clock.tick();
    let activity = record(json!({
        "OWNER_TYPE_ID": owner_type, "OWNER_ID": owner_id, "TYPE_ID": type_id,
        "PROVIDER_ID": provider_id, "PROVIDER_TYPE_ID": provider_type, "SUBJECT": subject,
        "DESCRIPTION": description, "DIRECTION": direction, "PRIORITY": priority.unwrap_or("2"),
        "COMPLETED": "N", "RESPONSIBLE_ID": responsible, "START_TIME": now, "END_TIME": now,
        "DEADLINE": now, "CREATED": now, "LAST_UPDATED": now,
    }));
    let id = crm.activities.insert(activity);
    let activity = find(&crm.activities, &id)?.clone();
    Ok(json!({ "id": id, "activity": activity }))
}

fn missing(key: &str) -> ToolError {
    ToolError::InvalidArguments(format!("{key} is required"))
}

/// updateActivity: overwrites the given fields; `completed` closes or
/// reopens the activity.
pub(super) fn update_activity(crm: &mut Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let id = args.id("id")?;
    let subject = args.word("subject")?;
    let description = args.text("description")?;
    let responsible = args.opt_id("responsibleId")?;
    let priority = args.choice("priority", &PRIORITIES, PRIORITY_MEANING)?;
    let completed = args.flag("completed")?;
    let changeable = [
        "subject",
        "description",
        "responsibleId",
        "priority",
        "completed",
    ];
    require_change(args, &changeable)?;
    if let Some(user) = responsible {
        check_user(crm, user)?;
    }
    let mut activity = find(&crm.activities, id)?.clone();
    set_opt(&mut activity, "SUBJECT", subject);
    set_opt(&mut activity, "DESCRIPTION", description);
    set_opt(&mut activity, "RESPONSIBLE_ID", responsible);
    set_opt(&mut activity, "PRIORITY", priority);
    set_opt(
        &mut activity,
        "COMPLETED",
        completed.map(|c| if c { "Y" } else { "N" }),
    );
    activity.insert("LAST_UPDATED".into(), crm.clock.tick().into());
    let updated = Value::Object(activity.clone());
    if let Some(stored) = crm.activities.get_mut(id) {
        *stored = activity;
    }
    Ok(updated)
}

fn date_arg(args: &Args<'_>, key: &str) -> Result<Option<Date>, ToolError> {
    let Some(text) = args.word(key)? else {
        return Ok(None);
    };
    let date = Date::parse(text).ok_or_else(|| {
        ToolError::InvalidArguments(format!(
            "{key} must be a date in YYYY-MM-DD format, got {text:?}"
        ))
    })?;
    Ok(Some(date))
}

/// getCallStatistics: completed calls whose START_TIME falls within
/// [dateFrom, dateTo] (both inclusive, both optional).
pub(super) fn get_call_statistics(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let from = date_arg(args, "dateFrom")?;
    let to = date_arg(args, "dateTo")?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ToolError::InvalidArguments(format!(
            "dateFrom {from} is after dateTo {to}"
        )));
    }
    let in_range = |start: Option<Date>| {
        start.is_some_and(|d| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t))
    };
    let calls: Vec<_> = crm
        .activities
        .rows()
        .iter()
        .filter(|a| field_str(a, "TYPE_ID") == Some(CALL) && field_str(a, "COMPLETED") == Some("Y"))
        .filter(|a| in_range(field_str(a, "START_TIME").and_then(Date::of_timestamp)))
        .collect();
    let duration = |a: &&crate::store::Record| {
        field_str(a, "CALL_DURATION")
            .and_then(|d| d.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let total: u64 = calls.iter().map(duration).sum();
    let count = calls.len() as u64;
    let direction = |dir: &str| {
        calls
            .iter()
            .filter(|a| field_str(a, "DIRECTION") == Some(dir))
            .count()
    };
    Ok(json!({
        "dateFrom": from.map(|d| d.to_string()),
        "dateTo": to.map(|d| d.to_string()),
        "totalCalls": count,
        "incoming": direction("1"),
        "outgoing": direction("2"),
        "totalDuration": total,
        // Whole seconds, rounded half up, as telephony reports show them.
        "averageDuration": (total + count / 2).checked_div(count).unwrap_or(0),
    }))
}
