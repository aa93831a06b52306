use std::path::Path;
use std::time::Duration;

use toolgate_config::Env;

use super::*;

const V1: &str = r#"{"version":"1","default":"deny"}"#;
const V2: &str = r#"{"version":"1","default":"allow"}"#;

/// A store with one policy `p` at `policy` (relative to `dir`, where the
/// config is).
fn store(dir: &Path, policy: &str) -> Arc<PolicyStore> {
    let yaml =
        format!("servers:\n  fx:\n    url: http://127.0.0.1:9/mcp\npolicies:\n  p: {policy}\n");
    let config = toolgate_config::parse(&yaml, &dir.join("toolgate.yaml"), &Env::from_pairs([]))
        .expect("config");
    PolicyStore::load(&config, None).expect("store")
}

fn version(store: &PolicyStore) -> String {
    store.get("p").expect("p").version().to_owned()
}

/// Waits until `V2` is in force as `p`, or fails.
async fn reloaded_to_v2(store: &PolicyStore) {
    let v2 = toolgate_policy::Policy::from_str_auto(V2, "v2").unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while version(store) != v2.version() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the change was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Kubernetes mounts a ConfigMap as `<key> -> ..data/<key>` and
/// `..data -> ..<timestamp>`, and updates it by renaming a new `..data`
/// link over the old one: no event ever names the policy file.
#[tokio::test]
async fn a_kubernetes_configmap_update_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("..2026_11_25_01")).unwrap();
    std::fs::write(d.join("..2026_11_25_01/policy.json"), V1).unwrap();
    std::os::unix::fs::symlink("..2026_11_25_01", d.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/policy.json", d.join("policy.json")).unwrap();
    let store = store(d, "policy.json");
    let _watch = watch(store.clone()).unwrap();

    // What the kubelet's atomic writer does.
    std::fs::create_dir(d.join("..2026_11_25_02")).unwrap();
    std::fs::write(d.join("..2026_11_25_02/policy.json"), V2).unwrap();
    std::os::unix::fs::symlink("..2026_11_25_02", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    std::fs::remove_dir_all(d.join("..2026_11_25_01")).unwrap();

    reloaded_to_v2(&store).await;
}

/// Saved in place: written and closed, no rename.
#[tokio::test]
async fn a_file_saved_in_place_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.json"), V1).unwrap();
    let store = store(dir.path(), "policy.json");
    let _watch = watch(store.clone()).unwrap();
    std::fs::write(dir.path().join("policy.json"), V2).unwrap();
    reloaded_to_v2(&store).await;
}

/// A file beside the policies that is written all day through a
/// descriptor kept open (the SQLite audit log's WAL) wakes nothing; the
/// policy's own save is reported.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn writes_to_a_busy_file_beside_the_policy_are_not_events() {
    use std::io::Write as _;

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, V1).unwrap();
    let mut wal = std::fs::File::create(dir.path().join("audit.db-wal")).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dirs = BTreeSet::from([dir.path().to_owned()]);
    let _source = linux::start(&dirs, tx).unwrap();

    for _ in 0..200 {
        wal.write_all(&[0u8; 4096]).unwrap();
        wal.sync_data().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.try_recv(), Err(mpsc::error::TryRecvError::Empty));

    std::fs::write(&policy, V2).unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(change.unwrap(), Some(Change::Path(policy)));
}

/// The notify source (used off Linux) reports a policy replaced by rename
/// and nothing for other names.
#[tokio::test]
async fn the_portable_source_reports_a_policy_replaced_by_rename() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, V1).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dirs = BTreeSet::from([dir.path().to_owned()]);
    let names = HashSet::from([OsString::from("policy.json")]);
    let _source = portable::start(&dirs, names, tx).unwrap();

    std::fs::write(dir.path().join("other.json"), V2).unwrap();
    std::fs::write(dir.path().join("policy.json.tmp"), V2).unwrap();
    std::fs::rename(dir.path().join("policy.json.tmp"), &policy).unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert_eq!(change.unwrap(), Some(Change::Path(policy)));
}

#[test]
fn a_change_beside_the_policies_affects_every_policy_in_that_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.json"), V1).unwrap();
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    let store = store(dir.path(), "policy.json");
    let at = |p: &str| affected(&store, &Change::Path(dir.path().join(p)));
    assert_eq!(at("policy.json"), ["p"]);
    assert_eq!(at("..data"), ["p"]);
    assert!(at("elsewhere/policy.json").is_empty());
    assert_eq!(affected(&store, &Change::Everything), ["p"]);
}
