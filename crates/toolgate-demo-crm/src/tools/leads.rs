//! Leads (`crm.lead.*`) and contacts (`crm.contact.*`): the people the
//! sales team talks to.

use serde_json::{Value, json};

use super::args::Args;
use super::{ToolError, find, get_many, get_one, require_change, set_opt};
use crate::seed::set_lead_status;
use crate::store::{Crm, Record, field_str, record};

/// The optional lead fields createLead and updateLead share, validated.
struct LeadFields<'a> {
    name: Option<&'a str>,
    last_name: Option<&'a str>,
    phone: Option<&'a str>,
    email: Option<&'a str>,
    status: Option<&'a str>,
}

impl<'a> LeadFields<'a> {
    fn parse(crm: &Crm, args: &Args<'a>) -> Result<LeadFields<'a>, ToolError> {
        let status = args.word("statusId")?;
        if let Some(status) = status {
            let known = crm
                .lead_statuses
                .iter()
                .any(|s| field_str(s, "STATUS_ID") == Some(status));
            if !known {
                return Err(ToolError::NotFound {
                    entity: "Lead status",
                    id: status.to_string(),
                });
            }
        }
        Ok(LeadFields {
            name: args.text("name")?,
            last_name: args.text("lastName")?,
            phone: args.phone("phone")?,
            email: args.email("email")?,
            status,
        })
    }

    /// Writes the given fields; a phone or e-mail replaces the stored ones.
    fn apply(&self, crm: &mut Crm, lead: &mut Record) {
        set_opt(lead, "NAME", self.name);
        set_opt(lead, "LAST_NAME", self.last_name);
        if let Some(status) = self.status {
            set_lead_status(lead, status);
        }
        if let Some(phone) = self.phone {
            crm.set_multifield(lead, "PHONE", phone);
        }
        if let Some(email) = self.email {
            crm.set_multifield(lead, "EMAIL", email);
        }
    }
}

/// getLeads
pub(super) fn get_leads(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_many(&crm.leads, args, "leads")
}

/// getLead
pub(super) fn get_lead(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_one(&crm.leads, args)
}

/// createLead: a new lead owned by the API user, in status NEW by default.
pub(super) fn create_lead(crm: &mut Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let title = args.required("title")?;
    let fields = LeadFields::parse(crm, args)?;
    let now = crm.clock.tick();
    let mut lead = record(json!({
        "TITLE": title, "NAME": "", "LAST_NAME": "", "COMPANY_TITLE": "",
        "STATUS_ID": "NEW", "SOURCE_ID": "OTHER", "OPPORTUNITY": "0.00", "CURRENCY_ID": "USD",
        "ASSIGNED_BY_ID": "1", "DATE_CREATE": now, "HAS_PHONE": "N", "HAS_EMAIL": "N",
    }));
    set_lead_status(&mut lead, "NEW");
    fields.apply(crm, &mut lead);
    lead.insert("DATE_MODIFY".into(), now.into());
    let id = crm.leads.insert(lead);
    let lead = find(&crm.leads, &id)?.clone();
    Ok(json!({ "id": id, "lead": lead }))
}

/// updateLead: overwrites the given fields and returns the updated lead.
pub(super) fn update_lead(crm: &mut Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let id = args.id("id")?;
    let title = args.word("title")?;
    let fields = LeadFields::parse(crm, args)?;
    let changeable = ["title", "name", "lastName", "phone", "email", "statusId"];
    require_change(args, &changeable)?;
    let mut lead = find(&crm.leads, id)?.clone();
    set_opt(&mut lead, "TITLE", title);
    fields.apply(crm, &mut lead);
    lead.insert("DATE_MODIFY".into(), crm.clock.tick().into());
    let updated = Value::Object(lead.clone());
    if let Some(stored) = crm.leads.get_mut(id) {
        *stored = lead;
    }
    Ok(updated)
}

/// getContacts
pub(super) fn get_contacts(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_many(&crm.contacts, args, "contacts")
}

/// getContact
pub(super) fn get_contact(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_one(&crm.contacts, args)
}
