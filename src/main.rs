fn main() {
    println!("flaresync: work in progress");
}
