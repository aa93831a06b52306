//! Tools that create and change records, and how they fail.

use serde_json::json;

use crate::support::{FIRST_TICK, call_tool, call_tools, ids, payload, tool_error};

#[tokio::test]
async fn create_then_get_a_lead() {
    let create = json!({
        "title": "Inbound: warehouse scanners", "name": "Jane", "lastName": "Doe",
        "phone": "+1 (555) 010-0222", "email": "jane.doe@example.com",
    });
    let results = call_tools(&[
        ("createLead", create),
        ("getLead", json!({"id": "9"})),
        ("getLeads", json!({"filter": "{\"STATUS_ID\":\"NEW\"}"})),
    ])
    .await;
    let created = payload(&results[0]);
    assert_eq!(created["id"], "9");
    let lead = &created["lead"];
    assert_eq!(lead["ID"], "9");
    assert_eq!(lead["TITLE"], "Inbound: warehouse scanners");
    assert_eq!(
        (&lead["NAME"], &lead["LAST_NAME"]),
        (&json!("Jane"), &json!("Doe"))
    );
    assert_eq!(
        (&lead["STATUS_ID"], &lead["STATUS_SEMANTIC_ID"]),
        (&json!("NEW"), &json!("P"))
    );
    assert_eq!(lead["PHONE"][0]["VALUE"], "+1 (555) 010-0222");
    assert_eq!(lead["EMAIL"][0]["VALUE"], "jane.doe@example.com");
    assert_eq!(
        (&lead["HAS_PHONE"], &lead["HAS_EMAIL"]),
        (&json!("Y"), &json!("Y"))
    );
    assert_eq!(
        (&lead["DATE_CREATE"], &lead["DATE_MODIFY"]),
        (&json!(FIRST_TICK), &json!(FIRST_TICK))
    );
    assert_eq!(payload(&results[1]), lead);
    assert_eq!(ids(payload(&results[2]), "leads"), ["1", "2", "9"]);
}

#[tokio::test]
async fn update_lead_overwrites_only_the_given_fields() {
    let update =
        json!({"id": "3", "statusId": "CONVERTED", "email": "nina.rossi@rossidesign.example"});
    let results = call_tools(&[
        ("getLead", json!({"id": "3"})),
        ("updateLead", update),
        ("getLead", json!({"id": "3"})),
    ])
    .await;
    let before = payload(&results[0]);
    let updated = payload(&results[1]);
    assert_eq!(payload(&results[2]), updated);
    assert_eq!(updated["STATUS_ID"], "CONVERTED");
    assert_eq!(updated["STATUS_SEMANTIC_ID"], "S");
    assert_eq!(updated["EMAIL"].as_array().unwrap().len(), 1);
    assert_eq!(
        updated["EMAIL"][0]["VALUE"],
        "nina.rossi@rossidesign.example"
    );
    assert_eq!(updated["DATE_MODIFY"], FIRST_TICK);
    for unchanged in ["ID", "TITLE", "NAME", "PHONE", "OPPORTUNITY", "DATE_CREATE"] {
        assert_eq!(updated[unchanged], before[unchanged], "{unchanged}");
    }
}

#[tokio::test]
async fn unknown_ids_are_reported_as_not_found() {
    let cases = [
        ("getLead", json!({"id": "999"}), "Lead 999 not found"),
        ("getDeal", json!({"id": "999"}), "Deal 999 not found"),
        ("getContact", json!({"id": "999"}), "Contact 999 not found"),
        (
            "getActivity",
            json!({"id": "999"}),
            "Activity 999 not found",
        ),
        ("getUser", json!({"id": "999"}), "User 999 not found"),
        ("getFile", json!({"id": "999"}), "File 999 not found"),
        (
            "updateLead",
            json!({"id": "999", "title": "x"}),
            "Lead 999 not found",
        ),
        (
            "updateDeal",
            json!({"id": "999", "amount": "1"}),
            "Deal 999 not found",
        ),
        (
            "updateActivity",
            json!({"id": "999", "completed": true}),
            "Activity 999 not found",
        ),
        (
            "createLead",
            json!({"title": "x", "statusId": "WON"}),
            "Lead status WON not found",
        ),
        (
            "createDeal",
            json!({"title": "x", "contactId": "999"}),
            "Contact 999 not found",
        ),
        (
            "createDeal",
            json!({"title": "x", "companyId": "999"}),
            "Company 999 not found",
        ),
        (
            "createDeal",
            json!({"title": "x", "responsibleId": "9"}),
            "User 9 not found",
        ),
        (
            "createDeal",
            json!({"title": "x", "categoryId": "5"}),
            "Deal category 5 not found",
        ),
        (
            "getDealStages",
            json!({"categoryId": "5"}),
            "Deal category 5 not found",
        ),
        (
            "createActivity",
            json!({"ownerTypeId": "2", "ownerId": "77", "typeId": "2", "subject": "x"}),
            "Deal 77 not found",
        ),
    ];
    for (tool, args, expected) in cases {
        assert_eq!(
            tool_error(&call_tool(tool, args.clone()).await),
            expected,
            "{tool} {args}"
        );
    }
}

#[tokio::test]
async fn invalid_arguments_are_tool_errors_that_say_what_is_wrong() {
    let cases = [
        ("createLead", json!({}), "title is required"),
        (
            "createLead",
            json!({"title": 5}),
            "title must be a string, got a number",
        ),
        (
            "createLead",
            json!({"title": "   "}),
            "title must not be empty",
        ),
        (
            "createLead",
            json!({"title": "x", "email": "not-an-address"}),
            "email must be an e-mail address",
        ),
        (
            "createLead",
            json!({"title": "x", "phone": "call me"}),
            "phone must be a phone number",
        ),
        ("getLead", json!({}), "id is required"),
        ("getLead", json!({"id": "abc"}), "id must be a numeric ID"),
        (
            "getLead",
            json!({"id": 1}),
            "id must be a string, got a number",
        ),
        ("updateLead", json!({"id": "1"}), "nothing to update"),
        (
            "updateActivity",
            json!({"id": "1", "completed": "yes"}),
            "completed must be a boolean",
        ),
        (
            "updateActivity",
            json!({"id": "1", "priority": "9"}),
            "priority must be 1 (low), 2 (medium) or 3 (high)",
        ),
        (
            "createActivity",
            json!({"ownerTypeId": "2", "ownerId": "1", "typeId": "9", "subject": "x"}),
            "typeId must be",
        ),
        (
            "createActivity",
            json!({"ownerTypeId": "7", "ownerId": "1", "typeId": "1", "subject": "x"}),
            "ownerTypeId must be",
        ),
        (
            "createActivity",
            json!({"ownerId": "1", "typeId": "1", "subject": "x"}),
            "ownerTypeId is required",
        ),
        (
            "addTimelineComment",
            json!({"entityType": "company", "entityId": "1", "comment": "x"}),
            "entityType must be lead, deal or contact",
        ),
        (
            "addTimelineComment",
            json!({"entityType": "lead", "entityId": "1"}),
            "comment is required",
        ),
        (
            "getLeads",
            json!({"filter": "{STATUS_ID:NEW}"}),
            "filter is not valid JSON",
        ),
        (
            "getDeals",
            json!({"filter": "[\"NEW\"]"}),
            "filter must be a JSON object",
        ),
        (
            "getTasks",
            json!({"filter": {"STATUS": "2"}}),
            "filter must be a string, got an object",
        ),
        ("getLead", json!([1]), "arguments must be a JSON object"),
    ];
    for (tool, args, expected) in cases {
        let text = tool_error(&call_tool(tool, args.clone()).await).to_string();
        let prefix = format!("Invalid arguments for {tool}: ");
        assert!(
            text.starts_with(&prefix) && text.contains(expected),
            "{tool} {args}: {text}"
        );
    }
}

#[tokio::test]
async fn deal_amounts_must_be_non_negative_numbers() {
    let cases = [
        ("1500", Some("1500.00")),
        ("99.999", Some("100.00")),
        ("0", Some("0.00")),
        ("  42.5 ", Some("42.50")),
        ("-5", None),
        ("12,50", None),
        ("abc", None),
        ("NaN", None),
        ("inf", None),
        ("1e400", None),
    ];
    for (amount, expected) in cases {
        let result = call_tool(
            "createDeal",
            json!({"title": "Amount check", "amount": amount}),
        )
        .await;
        match expected {
            Some(stored) => assert_eq!(payload(&result)["deal"]["OPPORTUNITY"], stored, "{amount}"),
            None => {
                let text = tool_error(&result);
                assert!(
                    text.starts_with(
                        "Invalid arguments for createDeal: amount must be a non-negative number"
                    ),
                    "{amount}: {text}"
                );
            }
        }
    }
}

#[tokio::test]
async fn deals_follow_their_pipelines_stages() {
    let results = call_tools(&[
        ("createDeal", json!({"title": "Partner: Hooli", "categoryId": "1", "currency": "EUR", "contactId": "3"})),
        ("createDeal", json!({"title": "Bad stage", "stageId": "C1:WON"})),
        ("createDeal", json!({"title": "Bad currency", "currency": "XYZ"})),
        ("updateDeal", json!({"id": "2", "stageId": "WON"})),
        ("updateDeal", json!({"id": "3", "categoryId": "1"})),
        ("getCrmSummary", json!({})),
    ])
    .await;
    let created = &payload(&results[0])["deal"];
    assert_eq!(payload(&results[0])["id"], "7");
    assert_eq!(
        (&created["CATEGORY_ID"], &created["STAGE_ID"]),
        (&json!("1"), &json!("C1:NEW"))
    );
    assert_eq!(
        (&created["CURRENCY_ID"], &created["CONTACT_ID"]),
        (&json!("EUR"), &json!("3"))
    );
    assert_eq!(created["BEGINDATE"], "2026-01-15T00:00:00+00:00");
    assert_eq!(created["CLOSEDATE"], "2026-01-22T00:00:00+00:00");
    assert_eq!(created["CLOSED"], "N");
    assert!(tool_error(&results[1]).contains("Stage C1:WON does not belong to deal category 0"));
    assert!(tool_error(&results[2]).contains("Currency XYZ is not configured"));
    let won = payload(&results[3]);
    assert_eq!(
        (&won["STAGE_SEMANTIC_ID"], &won["CLOSED"]),
        (&json!("S"), &json!("Y"))
    );
    let moved = payload(&results[4]);
    assert_eq!(
        (&moved["CATEGORY_ID"], &moved["STAGE_ID"]),
        (&json!("1"), &json!("C1:NEW"))
    );
    let deals = &payload(&results[5])["deals"];
    assert_eq!(
        (&deals["total"], &deals["open"], &deals["won"]),
        (&json!(7), &json!(4), &json!(2))
    );
}

#[tokio::test]
async fn timeline_comments_need_an_existing_entity() {
    let comment = "Called back; wants a quote by Friday.";
    let results = call_tools(&[
        (
            "addTimelineComment",
            json!({"entityType": "deal", "entityId": "404", "comment": "x"}),
        ),
        (
            "addTimelineComment",
            json!({"entityType": "Lead", "entityId": "1", "comment": comment}),
        ),
        ("checkApiConnection", json!({})),
    ])
    .await;
    assert_eq!(tool_error(&results[0]), "Deal 404 not found");
    let added = payload(&results[1]);
    assert_eq!(added["id"], "1");
    let expected = json!({
        "ID": "1", "ENTITY_ID": "1", "ENTITY_TYPE": "lead", "COMMENT": comment,
        "AUTHOR_ID": "1", "CREATED": FIRST_TICK,
    });
    // The failed call changed nothing, not even the clock.
    assert_eq!(added["comment"], expected);
    assert_eq!(payload(&results[2])["records"], 44);
}

#[tokio::test]
async fn activities_are_created_open_and_can_be_completed() {
    let create = json!({"ownerTypeId": "2", "ownerId": "3", "typeId": "2", "subject": "Call Laura about scope", "priority": "3"});
    let results = call_tools(&[
        ("createActivity", create),
        (
            "updateActivity",
            json!({"id": "8", "completed": true, "description": "Scope agreed."}),
        ),
        ("getCrmSummary", json!({})),
        ("getCallStatistics", json!({"dateFrom": "2026-01-15"})),
    ])
    .await;
    let created = payload(&results[0]);
    assert_eq!(created["id"], "8");
    let activity = &created["activity"];
    assert_eq!(
        (&activity["PROVIDER_ID"], &activity["DIRECTION"]),
        (&json!("VOXIMPLANT_CALL"), &json!("2"))
    );
    assert_eq!(
        (&activity["COMPLETED"], &activity["PRIORITY"]),
        (&json!("N"), &json!("3"))
    );
    assert_eq!(
        (&activity["RESPONSIBLE_ID"], &activity["START_TIME"]),
        (&json!("1"), &json!(FIRST_TICK))
    );
    let updated = payload(&results[1]);
    assert_eq!(
        (&updated["COMPLETED"], &updated["DESCRIPTION"]),
        (&json!("Y"), &json!("Scope agreed."))
    );
    assert_eq!(updated["LAST_UPDATED"], "2026-01-15T09:02:00+00:00");
    assert_eq!(
        payload(&results[2])["activities"],
        json!({"total": 8, "open": 2})
    );
    assert_eq!(payload(&results[3])["totalCalls"], 1);
}
