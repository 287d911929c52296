fn main() {
    for p in std::env::args().skip(1) {
        match stackdrill::scenario::load(std::path::Path::new(&p), &Default::default()) {
            Ok(plan) => println!("{p}: ok, {} steps, {} checks", plan.steps.len(), plan.checks.len()),
            Err(e) => print!("{}", stackdrill::scenario::render_plain(&e)),
        }
    }
}
