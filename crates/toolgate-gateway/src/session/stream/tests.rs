use std::sync::Arc;

use toolgate_mcp::Message;

use super::*;

fn note(n: u32) -> Message {
    Message::parse_text(&format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progress":{n}}}}}"#
    ))
    .unwrap()
}

fn resp(id: u32) -> Message {
    Message::parse_text(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)).unwrap()
}

struct Collect(parking_lot::Mutex<Vec<String>>);

impl Sink for Collect {
    fn interim(&self, msg: Message) {
        self.0
            .lock()
            .push(String::from_utf8(msg.to_bytes()).unwrap());
    }
    fn finalize(&self, msg: Message) {
        self.interim(msg);
    }
}

#[tokio::test]
async fn a_lone_response_is_a_json_reply() {
    let s = OutStream::new(1, Mode::Stream, Some(1), 1024, None);
    s.finalize(resp(1));
    assert!(s.first_is_sole_response().await);
    s.into_buffer();
    let finals = s.responses().await;
    assert_eq!(finals.len(), 1);
    assert_eq!(&finals[0][..], br#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
}

#[tokio::test]
async fn interim_first_means_a_stream_with_everything_replayed_then_live() {
    let s = OutStream::new(7, Mode::Stream, Some(1), 1 << 20, None);
    s.interim(note(1));
    assert!(!s.first_is_sole_response().await);
    let (replay, mut live) = s.attach(None, true);
    assert_eq!(
        replay.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        vec![1]
    );
    s.interim(note(2));
    s.finalize(resp(1));
    assert_eq!(live.recv().await.unwrap().0, 2);
    assert_eq!(live.recv().await.unwrap().0, 3);
    assert!(
        live.recv().await.is_none(),
        "the live channel ends after the last response"
    );
    assert!(s.is_done());
}

#[tokio::test]
async fn resuming_replays_only_what_came_after() {
    let s = OutStream::new(2, Mode::Stream, Some(1), 1 << 20, None);
    let (_, live) = s.attach(None, true);
    s.interim(note(1));
    s.interim(note(2));
    drop(live); // the client's connection broke
    s.interim(note(3));
    s.finalize(resp(9));
    let (replay, mut live) = s.attach(Some(1), false);
    assert_eq!(
        replay.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        vec![2, 3, 4]
    );
    assert!(live.recv().await.is_none());
}

#[tokio::test]
async fn the_log_is_bounded() {
    let s = OutStream::new(3, Mode::Stream, None, 200, None);
    for i in 0..50 {
        s.interim(note(i));
    }
    let (replay, _live) = s.attach(None, true);
    assert!(replay.len() < 10, "kept {}", replay.len());
    assert_eq!(replay.last().unwrap().0, 50, "the newest events are kept");
}

#[tokio::test]
async fn buffer_mode_sends_interim_messages_to_the_fallback() {
    let fallback = Arc::new(Collect(parking_lot::Mutex::new(Vec::new())));
    let s = OutStream::new(4, Mode::Buffer, Some(2), 1024, Some(fallback.clone()));
    s.interim(note(1));
    s.finalize(resp(1));
    s.finalize(resp(2));
    assert_eq!(s.responses().await.len(), 2);
    assert_eq!(fallback.0.lock().len(), 1);
}

#[tokio::test]
async fn dropping_every_watch_before_the_answer_abandons_the_stream() {
    let s = OutStream::new(5, Mode::Stream, Some(1), 1024, None);
    assert!(!s.abandoned(), "never watched is not abandoned");
    let w = s.watch();
    assert!(!s.abandoned());
    drop(w);
    assert!(s.abandoned());
    s.closed().await;
    let done = OutStream::new(6, Mode::Stream, Some(1), 1024, None);
    let w = done.watch();
    done.finalize(resp(1));
    drop(w);
    assert!(!done.abandoned(), "a finished stream is not abandoned");
}

#[test]
fn event_ids_round_trip() {
    assert_eq!(parse_event_id(&event_id(12, 34)), Some((12, 34)));
    assert_eq!(parse_event_id("x-1"), None);
    assert_eq!(parse_event_id("12"), None);
}
