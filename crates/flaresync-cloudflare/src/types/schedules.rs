//! Cron Triggers (`…/scripts/{s}/schedules`).

use serde::{Deserialize, Serialize};

use super::null_default;

/// A Cron Trigger of a script (`…/scripts/{s}/schedules`). Not versioned: uploads, deployments
/// and rollbacks leave it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// The cron expression as Cloudflare stores it, e.g. `*/15 * * * *`.
    pub cron: String,
    pub created_on: Option<String>,
    pub modified_on: Option<String>,
}

/// `result` of `GET`/`PUT …/schedules`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ScheduleList {
    #[serde(deserialize_with = "null_default")]
    pub schedules: Vec<Schedule>,
}

/// One item of the `PUT …/schedules` body (the body is an array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NewSchedule<'a> {
    pub cron: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_decode_and_encode_in_cloudflare_shape() {
        let list: ScheduleList = serde_json::from_value(serde_json::json!({
            "schedules": [
                {"cron": "*/30 * * * *", "created_on": "2026-11-01T10:00:00.000000Z",
                 "modified_on": "2026-11-01T10:00:00.000000Z"},
                {"cron": "0 9 * * MON"}
            ]
        }))
        .expect("schedules decode");
        assert_eq!(list.schedules.len(), 2);
        assert_eq!(list.schedules[0].cron, "*/30 * * * *");
        assert_eq!(list.schedules[1].created_on, None);
        let empty: ScheduleList =
            serde_json::from_value(serde_json::json!({"schedules": null})).expect("null decodes");
        assert!(empty.schedules.is_empty());
        assert_eq!(
            serde_json::to_value([NewSchedule { cron: "0 0 * * *" }]).expect("encodes"),
            serde_json::json!([{"cron": "0 0 * * *"}])
        );
    }
}
