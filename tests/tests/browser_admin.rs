//! The admin page in Chromium against a running stack with an operator secret: `/admin` asks
//! for the secret, then lists the bridge (state, a stress plot that grows with each poll) and
//! the conference with its participant; the Drain button drains the bridge at the focus and
//! Undrain lifts it.

use std::time::Duration;

use ponte::StackConfig;
use ponte_tests::browser::{Browser, Engine, Page};
use ponte_tests::meeting_page::js_string;
use ponte_tests::stack;

const SECRET: &str = "admin-page-s3cret";
const SOON: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_shows_bridges_and_conferences_and_drains() {
    tokio::time::timeout(Duration::from_secs(60), run()).await.expect("the scenario finishes within 60 s");
}

async fn wait(page: &Page, expression: &str, what: &str) {
    if let Err(e) = page.wait_for(expression, SOON).await {
        let shown = page.eval("document.body.innerText").await.unwrap_or_default();
        panic!("{what}: {e}\npage text: {shown}");
    }
}

/// `GET /v1/bridges` on the focus, as the page calls it.
async fn bridges(base: &str) -> Vec<serde_json::Value> {
    let response = reqwest::Client::new().get(format!("{base}/v1/bridges")).bearer_auth(SECRET).send().await.expect("the API answers");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("a JSON list")
}

async fn run() {
    let mut config = StackConfig::loopback();
    config.focus.secret = Some(SECRET.into());
    let stack = stack::start_with(config).await;
    let bridge = bridges(&stack.http_url()).await[0]["id"].as_str().expect("a bridge id").to_owned();
    let ann = stack::join(&stack, "lab", "Ann").await;

    let browser = Browser::launch(Engine::Chromium).await.expect("chromium starts");
    let page = browser.open(&format!("{}/admin", stack.http_url())).await.expect("open /admin");
    wait(&page, "!document.querySelector('#secret-form').hidden", "the page asks for the operator secret").await;
    let row = format!("document.querySelector('#bridges tr[data-bridge-id={}]')", js_string(&bridge));
    assert_eq!(page.eval(&format!("!!{row}")).await.unwrap(), false, "nothing is shown without the secret");

    // A wrong secret is refused in words; the right one shows the data.
    let submit = |secret: &str| {
        format!(
            "(() => {{ document.querySelector('#secret-input').value = {}; document.querySelector('#secret-form').requestSubmit(); return true; }})()",
            js_string(secret)
        )
    };
    page.eval(&submit("wrong")).await.unwrap();
    wait(&page, "document.querySelector('#secret-error').textContent.includes('refused')", "a wrong secret is refused").await;
    page.eval(&submit(SECRET)).await.unwrap();
    wait(&page, &format!("{row}?.dataset.state === 'healthy'"), "the bridge row shows it healthy").await;
    wait(&page, "document.querySelector('#secret-form').hidden", "the secret form goes away").await;
    let conference = "document.querySelector('#conferences tr[data-conference=\"lab\"]')";
    wait(&page, &format!("{conference}?.dataset.bridgeId === {}", js_string(&bridge)), "the conference is listed on its bridge").await;
    wait(&page, &format!("{conference}.innerText.includes('Ann')"), "its participant is named").await;
    // The plot keeps a point per poll (every 2 s).
    wait(&page, &format!("Number({row}.querySelector('.spark').dataset.points) >= 2"), "the stress plot grows").await;
    assert_eq!(page.eval(&format!("!!{row}.querySelector('.spark svg polyline')")).await.unwrap(), true);

    // Drain (the page asks for confirmation first), then undrain.
    page.eval("(() => { window.confirm = () => true; return true; })()").await.unwrap();
    page.eval(&format!("{row}.querySelector('button.drain').click()")).await.unwrap();
    wait(&page, &format!("{row}?.dataset.state === 'draining'"), "the row shows the bridge draining").await;
    assert_eq!(bridges(&stack.http_url()).await[0]["state"], "draining", "the focus drains the bridge");
    wait(&page, &format!("{row}.querySelector('button.drain').textContent === 'Undrain'"), "the button offers undrain").await;
    page.eval(&format!("{row}.querySelector('button.drain').click()")).await.unwrap();
    wait(&page, &format!("{row}?.dataset.state === 'healthy'"), "the row shows the bridge healthy again").await;
    assert_eq!(bridges(&stack.http_url()).await[0]["state"], "healthy", "the focus undrained the bridge");

    let _ = ann.leave().await;
    browser.close().await;
}
