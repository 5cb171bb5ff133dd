//! What every surface (REST paths and queries, REST protobuf bodies, gRPC messages) reads and
//! checks the same way: a record from two named fields, a protobuf value that must agree with
//! the path, and the rule that a caller changes only their own ratings. The HTTP handler and
//! the gRPC methods both use it; neither uses the other for it.

use crate::controller::{RatingError, may_act_for};
use crate::model::{RatingValue, RecordId, RecordKey, RecordType, UserId};
use movie_proto as proto;
use service_kit::auth::Principal;
use service_kit::edge::Fields;
use service_kit::{FieldErrors, Invalid};

/// The names of a record's type and id in one surface.
pub type RecordFields = (&'static str, &'static str);

/// Checks that `caller` may change `user`'s ratings. Write routes always have a verified
/// caller; one without would be a wiring error, refused rather than trusted.
pub fn acting_for(caller: Option<&Principal>, user: &UserId) -> Result<(), RatingError> {
    match caller {
        Some(caller) => may_act_for(caller, user),
        None => Err(RatingError::NotTheirs(user.clone())),
    }
}

/// The record named by `source`'s two fields, or `None` with the reasons in `errors`.
pub fn record_key(
    errors: &mut FieldErrors,
    source: &impl Fields,
    (type_field, id_field): RecordFields,
) -> Option<RecordKey> {
    let record_type = source.check(errors, type_field, RecordType::parse);
    let record_id = source.check(errors, id_field, RecordId::parse);
    Some(RecordKey {
        record_type: record_type?,
        record_id: record_id?,
    })
}

/// The value of a REST write sent as a `PutRatingRequest`: its record and user may be left
/// empty, since the path names them, and must otherwise be the path's.
pub fn value_for_path(
    errors: &mut FieldErrors,
    message: &proto::PutRatingRequest,
    path: &impl Fields,
) -> Option<RatingValue> {
    let sent = [
        ("record_type", &message.record_type, "recordType"),
        ("record_id", &message.record_id, "recordId"),
        ("user_id", &message.user_id, "userId"),
    ];
    for (field, value, path_name) in sent {
        if !value.is_empty() && path.get(path_name) != Some(value.as_str()) {
            errors.reject(
                field,
                Invalid::new(format!("must equal the path's {path_name}")),
            );
        }
    }
    errors.check(
        "rating_value",
        RatingValue::parse(i64::from(message.rating_value)),
    )
}
