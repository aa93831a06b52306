//! Deals (`crm.deal.*`) and their pipelines (`crm.dealcategory.*`).

use serde_json::{Value, json};

use super::args::Args;
use super::{ToolError, check_user, find, get_many, get_one, not_found, require_change, set_opt};
use crate::seed::set_deal_stage;
use crate::store::{Crm, Record, field_str, record};

/// Currencies configured on the demo portal.
pub(super) const CURRENCIES: [&str; 4] = ["USD", "EUR", "GBP", "CAD"];

/// The deal fields createDeal and updateDeal share, validated.
struct DealFields<'a> {
    title: Option<&'a str>,
    contact: Option<&'a str>,
    company: Option<&'a str>,
    category: Option<&'a str>,
    stage: Option<&'a str>,
    amount: Option<String>,
    currency: Option<&'a str>,
    responsible: Option<&'a str>,
}

impl<'a> DealFields<'a> {
    fn parse(crm: &Crm, args: &Args<'a>) -> Result<DealFields<'a>, ToolError> {
        let fields = DealFields {
            title: args.word("title")?,
            contact: args.opt_id("contactId")?,
            company: args.opt_id("companyId")?,
            category: args.opt_id("categoryId")?,
            stage: args.word("stageId")?,
            amount: args.word("amount")?.map(parse_amount).transpose()?,
            currency: args.word("currency")?,
            responsible: args.opt_id("responsibleId")?,
        };
        // "0" unlinks a contact or company, as in Bitrix24.
        if let Some(id) = fields.contact.filter(|id| *id != "0") {
            find(&crm.contacts, id)?;
        }
        if let Some(id) = fields.company.filter(|id| *id != "0") {
            find(&crm.companies, id)?;
        }
        if let Some(currency) = fields.currency
            && !CURRENCIES.contains(&currency)
        {
            return Err(ToolError::Rejected(format!(
                "Currency {currency} is not configured on this portal; use one of {}",
                CURRENCIES.join(", ")
            )));
        }
        if let Some(user) = fields.responsible {
            check_user(crm, user)?;
        }
        Ok(fields)
    }

    /// The stage the deal ends up in: the given one (which must belong to
    /// the pipeline), else the current one if the pipeline is unchanged,
    /// else the pipeline's first stage.
    fn resolve_stage(
        &self,
        crm: &Crm,
        current: Option<(&str, &str)>,
    ) -> Result<(String, String), ToolError> {
        let category = self
            .category
            .or(current.map(|(category, _)| category))
            .unwrap_or("0");
        let stages = crm
            .stages_of(category)
            .ok_or_else(|| not_found("Deal category", category))?;
        let in_pipeline = |stage: &str| {
            stages
                .iter()
                .any(|s| field_str(s, "STATUS_ID") == Some(stage))
        };
        let stage = match (self.stage, current) {
            (Some(stage), _) if in_pipeline(stage) => stage,
            (Some(stage), _) => {
                return Err(ToolError::Rejected(format!(
                    "Stage {stage} does not belong to deal category {category}; see getDealStages"
                )));
            }
            (None, Some((_, stage))) if in_pipeline(stage) => stage,
            (None, _) => stages
                .first()
                .and_then(|s| field_str(s, "STATUS_ID"))
                .unwrap_or("NEW"),
        };
        Ok((category.to_string(), stage.to_string()))
    }

    fn apply(&self, deal: &mut Record, category: &str, stage: &str) {
        set_opt(deal, "TITLE", self.title);
        set_opt(deal, "CATEGORY_ID", Some(category));
        set_deal_stage(deal, stage);
        set_opt(deal, "OPPORTUNITY", self.amount.as_deref());
        set_opt(deal, "CURRENCY_ID", self.currency);
        set_opt(deal, "CONTACT_ID", self.contact);
        set_opt(deal, "COMPANY_ID", self.company);
        set_opt(deal, "ASSIGNED_BY_ID", self.responsible);
    }
}

/// Parses a non-negative amount into Bitrix24's two-decimal form ("1500.00").
fn parse_amount(text: &str) -> Result<String, ToolError> {
    let amount = text
        .parse::<f64>()
        .ok()
        .filter(|a| a.is_finite() && *a >= 0.0 && *a < 1e15);
    let Some(amount) = amount else {
        return Err(ToolError::InvalidArguments(format!(
            "amount must be a non-negative number such as \"1500.00\", got {text:?}"
        )));
    };
    Ok(format_cents((amount * 100.0).round() as i64))
}

/// Formats an amount in cents as "1234.56".
pub(super) fn format_cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// An OPPORTUNITY string in cents (amounts are stored as "1234.56").
pub(super) fn cents(opportunity: &str) -> i64 {
    opportunity
        .parse::<f64>()
        .map_or(0, |a| (a * 100.0).round() as i64)
}

/// getDeals
pub(super) fn get_deals(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_many(&crm.deals, args, "deals")
}

/// getDeal
pub(super) fn get_deal(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_one(&crm.deals, args)
}

/// createDeal: a new deal in the given (or default) pipeline, starting at
/// its first stage unless stageId says otherwise.
pub(super) fn create_deal(crm: &mut Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let title = args.required("title")?;
    let fields = DealFields::parse(crm, args)?;
    let (category, stage) = fields.resolve_stage(crm, None)?;
    let now = crm.clock.tick();
    let begin = crm.clock.today();
    let mut deal = record(json!({
        "TITLE": title, "CATEGORY_ID": category, "STAGE_ID": stage, "OPPORTUNITY": "0.00",
        "CURRENCY_ID": "USD", "CONTACT_ID": "0", "COMPANY_ID": "0", "ASSIGNED_BY_ID": "1",
        "BEGINDATE": format!("{begin}T00:00:00+00:00"),
        // Bitrix24 proposes closing a week after the start.
        "CLOSEDATE": format!("{}T00:00:00+00:00", begin.plus_days(7)),
        "DATE_CREATE": now,
    }));
    fields.apply(&mut deal, &category, &stage);
    deal.insert("DATE_MODIFY".into(), now.into());
    let id = crm.deals.insert(deal);
    let deal = find(&crm.deals, &id)?.clone();
    Ok(json!({ "id": id, "deal": deal }))
}

/// updateDeal: overwrites the given fields; moving a deal to another
/// pipeline puts it at that pipeline's first stage unless stageId is given.
pub(super) fn update_deal(crm: &mut Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let id = args.id("id")?;
    let fields = DealFields::parse(crm, args)?;
    let changeable = [
        "title",
        "contactId",
        "companyId",
        "categoryId",
        "stageId",
        "amount",
        "currency",
        "responsibleId",
    ];
    require_change(args, &changeable)?;
    let mut deal = find(&crm.deals, id)?.clone();
    let current_category = field_str(&deal, "CATEGORY_ID").unwrap_or("0");
    let current_stage = field_str(&deal, "STAGE_ID").unwrap_or("NEW");
    let (category, stage) = fields.resolve_stage(crm, Some((current_category, current_stage)))?;
    fields.apply(&mut deal, &category, &stage);
    deal.insert("DATE_MODIFY".into(), crm.clock.tick().into());
    let updated = Value::Object(deal.clone());
    if let Some(stored) = crm.deals.get_mut(id) {
        *stored = deal;
    }
    Ok(updated)
}

/// getDealCategories
pub(super) fn get_deal_categories(crm: &Crm) -> Value {
    json!({ "categories": crm.deal_categories, "total": crm.deal_categories.len() })
}

/// getDealStages: the stages of one pipeline, default "0".
pub(super) fn get_deal_stages(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let category = args.opt_id("categoryId")?.unwrap_or("0");
    let stages = crm
        .stages_of(category)
        .ok_or_else(|| not_found("Deal category", category))?;
    Ok(json!({ "categoryId": category, "stages": stages }))
}
