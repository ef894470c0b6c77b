fn main() {
    println!("tandem-compositor: not yet implemented");
}
